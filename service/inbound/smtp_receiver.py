"""An SMTP server for mail to INBOUND_DOMAIN, for a relay or MX that hands our domain's mail over by SMTP.

The aiosmtpd handler only translates: RCPT asks `refuse_recipient`, DATA
calls `deliver`, both plain functions the tests call directly. It accepts
recipients at INBOUND_DOMAIN only (so it relays nothing for anybody), refuses
a message over INBOUND_MAX_BYTES (announced in EHLO as SIZE), and answers 250
only once the message is committed to the database; while the database is
down it answers 451, and the sending server keeps the message and tries again.
"""
import asyncio
import logging
import signal
import ssl
import threading

from aiosmtpd.controller import Controller
from flask import Flask, current_app
from sqlalchemy.exc import DBAPIError

from service.addresses import read_address
from service.inbound.store import TooLarge, receive

log = logging.getLogger(__name__)

ACCEPTED = "250 2.0.0 Message accepted"
TRY_LATER = "451 4.3.0 Cannot store the message now; try again later"


def refuse_recipient(address: str) -> str | None:
    """The SMTP refusal for a recipient we do not receive mail for (None: accept it)."""
    _local, at, domain = (address or "").strip().strip("<>").rpartition("@")
    if not at or domain.lower().rstrip(".") != current_app.config["INBOUND_DOMAIN"].lower():
        return "550 5.7.1 Relaying denied: this server only receives mail for its own domain"
    return None


def deliver(raw: bytes, recipients: list[str], mail_from: str = "", via: str = "smtp") -> str:
    """Store one message received for `recipients` (all at INBOUND_DOMAIN); returns the SMTP reply to give.

    A message to several of our addresses is stored once, for the first one
    that is a genuine signed address (else the first): its Message-ID is
    stored once anyway, and one message is one answer from one member.
    """
    signed = [address for address in recipients if read_address(address)]
    recipient = (signed or recipients or [""])[0]
    try:
        receive(raw, recipient, via, mail_from or "")
    except TooLarge:
        return "552 5.3.4 Message too big for this system"
    except DBAPIError as error:
        log.warning("inbound message for %s not stored, the database is unavailable: %s", recipient, error)
        return TRY_LATER
    except Exception:  # nothing stored: the sender keeps the message and tries again
        log.exception("inbound message for %s could not be stored", recipient)
        return TRY_LATER
    return ACCEPTED


class InboundHandler:
    """aiosmtpd handler: each step calls the plain function above in an app context, off the event loop."""

    def __init__(self, app: Flask, via: str = "smtp"):
        self.app, self.via = app, via

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        refusal = await self._in_app(refuse_recipient, address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        return await self._in_app(deliver, raw, list(envelope.rcpt_tos), envelope.mail_from or "", self.via)

    async def _in_app(self, function, *args):
        def call():
            with self.app.app_context():
                return function(*args)
        return await asyncio.get_running_loop().run_in_executor(None, call)


def tls_context(certificate: str, key: str) -> ssl.SSLContext:
    """What STARTTLS offers: the server's certificate chain and key (PEM files)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    return context


def start_receiver(app: Flask, host: str, port: int, tls: ssl.SSLContext | None = None) -> Controller:
    """Start listening in a background thread, offering STARTTLS with `tls`; `.stop()` the result to end it."""
    controller = Controller(InboundHandler(app), hostname=host, port=port,
                            data_size_limit=app.config["INBOUND_MAX_BYTES"], decode_data=False,
                            server_hostname=app.config["INBOUND_DOMAIN"], tls_context=tls)
    controller.start()
    return controller


def serve(app: Flask, host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
    """Run the receiver until SIGTERM or Ctrl-C (`flask mail smtp-receiver`)."""
    controller = start_receiver(app, host, port, tls)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
