"""Helpers for tests of received mail: write a message as a mail client would, put it through the pipeline."""
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from service.extensions import db
from service.inbound.store import receive
from service.models import InboundMessage
from tests.conftest import run_worker


def compose(sender: str, to: str, subject: str = "Re: our meeting", body: str = "Yes, count me in.",
            **headers) -> bytes:
    """A plain-text message; keyword arguments add headers (underscores become hyphens)."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"], message["Message-ID"] = formatdate(), make_msgid(domain="mail.example.net")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return bytes(message)


def deliver(app, raw: bytes, to: str, via: str = "test") -> InboundMessage:
    """Receive `raw` as delivered to `to`, run the queued jobs, and return the stored message as processed."""
    row, _new = receive(raw, to, via)
    row_id = row.id
    run_worker(app)
    db.session.expire_all()
    return db.session.get(InboundMessage, row_id)
