"""Mail no person wrote: auto-replies, lists, robots and our own mail coming back (RFC 3834 and conventions).

Such mail is stored and shown, never answered (two robots answering each
other is a mail loop) and never counted as an RSVP, a vote or a bounce.
"""
import re
from email.message import EmailMessage
from email.utils import parseaddr

from flask import current_app

from service.inbound.message import address_of

AUTO_REPLY_SUBJECT_WORDS = ("out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
                            "auto reply", "vacation", "away from my desk", "fuera de la oficina",
                            "respuesta automática", "respuesta automatica", "ausente", "de vacaciones")
# An out-of-office notice says the person is away *and* until when, or how to reach someone else; a member's
# reply may say the first ("No, I'll be on vacation that week") and is an answer, not a notice.
AWAY = re.compile(
    r"\b(i am|i'm|i will be|i'll be)\s+(currently\s+)?(out of (the )?office|away( from (the|my) (office|desk))?"
    r"|on (annual |parental |maternity |paternity |sick |medical )?(leave|vacation|holiday))"
    r"|\b(estoy|estar[ée]|me encuentro)\s+(actualmente\s+)?(fuera de la oficina|de vacaciones|ausente|de baja"
    r"|de permiso)|\b(actualmente )?no estoy en la oficina", re.IGNORECASE)
AWAY_NOTICE = re.compile(
    r"\b(until|till|returning|return on|back on|will be back|when i return|upon my return|limited access"
    r"|no access|without access|not checking|urgent|in my absence|my colleague"
    r"|hasta el|hasta mi regreso|a mi regreso|mi vuelta|regreso el|vuelvo el|volver[ée]|sin acceso"
    r"|no tendr[ée] acceso|acceso limitado|urgente|en mi ausencia)\b", re.IGNORECASE)
SAYS_AUTOMATIC = re.compile(
    r"\bthis is an automatic(ally generated)? (reply|response|message)"
    r"|\beste es un mensaje autom[aá]tico|\brespuesta autom[aá]tica", re.IGNORECASE)
ROBOT_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+._-].*)?$")
BULK_PRECEDENCE = ("bulk", "junk", "list", "auto_reply")
BODY_CHARS_CHECKED = 600  # an out-of-office notice says so at the top


def auto_reply_reason(message: EmailMessage, text: str = "") -> str | None:
    """Why this is an automatic reply (its headers, subject or opening words), or None."""
    auto = str(message.get("Auto-Submitted") or "no").strip().lower()
    if not auto.startswith("no"):
        return f"automatic (Auto-Submitted: {auto[:40]})"
    precedence = str(message.get("Precedence") or "").strip().lower()
    if precedence in BULK_PRECEDENCE:
        return f"automatic (Precedence: {precedence})"
    if message.get("X-Autoreply") or message.get("X-Autorespond"):
        return "automatic (X-Autoreply)"
    subject = " ".join(str(message.get("Subject") or "").lower().split())
    label = subject.split(":", 1)[0]  # "Automatic reply: <our subject>"; our own words after it say nothing
    if any(words in label for words in AUTO_REPLY_SUBJECT_WORDS):
        return "an out-of-office or automatic reply (its subject)"
    opening = text[:BODY_CHARS_CHECKED]
    if SAYS_AUTOMATIC.search(opening) or (AWAY.search(opening) and AWAY_NOTICE.search(opening)):
        return "an out-of-office or automatic reply (its text)"
    return None


def automatic_reason(incoming) -> str | None:
    """Why no person is waiting for an answer to this message, or None when one may be."""
    if incoming.message is None:
        return None
    return_path = incoming.headers.get("return-path", "").strip()
    if return_path and address_of(return_path)[1] == "" and "<>" in return_path:
        return "automatic (empty Return-Path: a delivery report or robot)"
    local, _, domain = incoming.from_address.rpartition("@")
    if ROBOT_SENDERS.match(local):
        return f"automatic (sent by {incoming.from_address})"
    if is_our_address(incoming.from_address):
        return "our own mail came back (a loop)"
    if our_loop_mark(incoming.headers.get("x-loop", "")):
        return "our own mail came back (it carries our X-Loop)"
    if incoming.headers.get("list-id") or incoming.headers.get("list-unsubscribe"):
        return "sent by a mailing list"
    return auto_reply_reason(incoming.message, incoming.text)


def is_our_address(address: str) -> bool:
    """An address we send from or receive at."""
    address = (address or "").lower()
    sender = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1].lower()
    return bool(address) and (address == sender
                              or address.endswith("@" + current_app.config["INBOUND_DOMAIN"].lower()))


def our_loop_mark(x_loop: str) -> bool:
    """Whether an X-Loop header names us: we put our domain in it on every post copy and refusal we send."""
    return current_app.config["INBOUND_DOMAIN"].lower() in (x_loop or "").lower()
