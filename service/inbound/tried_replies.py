"""Trying a member's reply locally (embedded mode only): from the Outbox page, a coordinator writes what a member
might answer to a message the sink caught; it is sent from the member's address to the message's Reply-To through
the embedded SMTP sink, so it takes the path a real reply takes, and the page then shows what was understood.
"""
import secrets
import smtplib
import textwrap
from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr

from flask import current_app
from sqlalchemy import select

from service.extensions import db
from service.mailsink import CapturedMessage
from service.models import InboundMessage, Member, Membership, OutboundEmail

QUOTED_LINES = 30  # of the original, quoted under the reply as a mail client would


def reply_address(captured: CapturedMessage | None) -> str | None:
    """The message's Reply-To when it is one of our inbound addresses (a message one can reply to), else None."""
    if captured is None:
        return None
    value = parseaddr(_header(captured, "Reply-To"))[1]
    domain = current_app.config["INBOUND_DOMAIN"].lower()
    return value if value.rpartition("@")[2].lower() == domain else None


def can_reply_as_member(email: OutboundEmail, captured: CapturedMessage | None) -> bool:
    return bool(current_app.config["EMBEDDED_MAIL"] and email.member_id and email.message_id
                and reply_address(captured))


def send_reply_as_member(email: OutboundEmail, captured: CapturedMessage, text: str) -> str:
    """Send `text` as the member's reply to `email` through the embedded sink; returns the reply's Message-ID."""
    member = db.session.get(Member, email.member_id)
    name = db.session.scalar(select(Membership.name).where(
        Membership.member_id == member.id, Membership.community_id == email.community_id)) or member.name
    subject = _header(captured, "Subject")
    message = EmailMessage()
    message["From"] = formataddr((name, member.email))
    message["To"] = reply_address(captured)
    message["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id = _message_id(email)
    message["In-Reply-To"] = message["References"] = email.message_id
    quoted = "\n".join(f"> {line}" for line in (captured.text or "").splitlines()[:QUOTED_LINES])
    message.set_content(f"{text}\n\n{_attribution(captured)}\n{quoted}\n")
    mail = current_app.extensions["mail"]  # the embedded sink, as the delivery jobs use it
    with smtplib.SMTP(mail.server, mail.port, timeout=current_app.config["MAIL_TIMEOUT"]) as connection:
        connection.sendmail(member.email, [reply_address(captured)], message.as_bytes(policy=policy.SMTP))
    return message_id


def tried_replies(email: OutboundEmail) -> list[InboundMessage]:
    """The replies tried from this message's page, newest first, as the inbound pipeline recorded them."""
    tried_here = InboundMessage.message_id.startswith(f"<tried-reply.{email.id}.", autoescape=True)
    return list(db.session.scalars(select(InboundMessage).where(InboundMessage.via == "sink", tried_here)
                                   .order_by(InboundMessage.id.desc()).limit(20)))


def _message_id(email: OutboundEmail) -> str:
    """Names the outbox message it answers, so the page can list the replies tried from it."""
    return f"<tried-reply.{email.id}.{secrets.token_hex(8)}@{current_app.config['INBOUND_DOMAIN']}>"


def _attribution(captured: CapturedMessage) -> str:
    line = f"On {_header(captured, 'Date')}, {_header(captured, 'From')} wrote:"
    return textwrap.shorten(line, 200, placeholder="...")


def _header(captured: CapturedMessage, name: str) -> str:
    return next((value for key, value in captured.headers if key.lower() == name.lower()), "")
