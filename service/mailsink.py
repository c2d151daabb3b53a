"""The embedded SMTP sink: in embedded mode, every message we send lands in a Maildir under instance/.

The coordinator reads these messages (text and HTML) on the Outbox page; in
production MAIL_SERVER points at a real relay and this module is not used.
Mail the sink receives for an address at INBOUND_DOMAIN (a reply tried from
the Outbox page, a member's mail client pointed at it) goes into the inbound
pipeline instead, as an MX would hand it over.
"""
import asyncio
import mailbox
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from flask import Flask

from service.test_copies import stand_in_links


class MaildirHandler:
    """aiosmtpd handler that files each accepted message into a Maildir, and with an app, hands what is addressed to
    its INBOUND_DOMAIN to the inbound pipeline."""

    def __init__(self, directory: str, app: Flask | None = None):
        self.app = app
        Path(directory).parent.mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(directory, create=True)
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips these if the folder exists
            Path(directory, sub).mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        ours = [address for address in envelope.rcpt_tos if self._is_inbound(address)]
        if ours:
            reply = await asyncio.get_running_loop().run_in_executor(None, self._receive, raw, ours,
                                                                     envelope.mail_from or "")
            if not reply.startswith("250"):
                return reply
        others = [address for address in envelope.rcpt_tos if address not in ours]
        if others:
            message = message_from_bytes(raw, policy=policy.default)
            message["X-Envelope-From"] = envelope.mail_from or ""
            message["X-Envelope-To"] = ", ".join(others)
            self.maildir.add(message.as_bytes(policy=policy.SMTP))
        return "250 Message accepted for delivery"

    def _is_inbound(self, address: str) -> bool:
        domain = address.rpartition("@")[2].lower().rstrip(".")
        return self.app is not None and domain == self.app.config["INBOUND_DOMAIN"].lower()

    def _receive(self, raw: bytes, recipients: list[str], mail_from: str) -> str:
        from service.inbound.smtp_receiver import deliver
        with self.app.app_context():
            return deliver(raw, recipients, mail_from, via="sink")


def start_sink(directory: str, host: str = "127.0.0.1", port: int = 8025, app: Flask | None = None) -> Controller:
    """Start the sink in a background thread; call .stop() on the result to end it. With `app`, mail to its
    INBOUND_DOMAIN is received as replies are, rather than filed."""
    controller = Controller(MaildirHandler(directory, app), hostname=host, port=port)
    controller.start()
    return controller


@dataclass
class CapturedMessage:
    headers: list[tuple[str, str]]
    text: str | None
    html: str | None
    attachments: list[str]


def find_captured(directory: str, message_id: str) -> CapturedMessage | None:
    """The message with this Message-ID in the sink, if it arrived there."""
    if not message_id or not Path(directory, "cur").exists():
        return None
    box = mailbox.Maildir(directory, factory=None, create=False)
    for key in box.iterkeys():
        with box.get_file(key) as handle:
            raw = handle.read()
        if message_id.encode() in raw:
            parsed = message_from_bytes(raw, policy=policy.default)
            if parsed.get("Message-ID", "").strip() == message_id.strip():
                return _captured(parsed)
    return None


def _captured(message: EmailMessage) -> CapturedMessage:
    """The message as a coordinator may read it: every member link stands in (service.test_copies).

    The member's own links act as the member, who may also belong to another
    coordinator's community: their preferences link renames them there too.
    """
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    attachments = [part.get_filename() or part.get_content_type() for part in message.iter_attachments()]
    names, values = zip(*[(k, str(v)) for k, v in message.items()]) if message.keys() else ((), ())
    *values, text, html = stand_in_links((*values, text_part.get_content() if text_part else "",
                                          html_part.get_content() if html_part else ""))
    return CapturedMessage(
        headers=list(zip(names, values)),
        text=text if text_part else None,
        html=html if html_part else None,
        attachments=attachments,
    )
