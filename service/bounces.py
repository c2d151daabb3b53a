"""Bounces: scoring soft and hard failures with decay, and suppressing members over the threshold.

A hard bounce weighs as much as the threshold (one is enough); a soft bounce
weighs one. The score halves every BOUNCE_HALF_LIFE_DAYS, so an address that
bounced once in spring and works now keeps receiving mail. Auto-replies (out
of office, vacation) are never bounces.
"""
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask import current_app
from flufl.bounce import all_failures
from sqlalchemy import select

from service import audit
from service.addresses import read_address
from service.extensions import db
from service.models import BounceEvent, Member, OutboundEmail, Suppression

SOFT_WEIGHT = 1.0
AUTO_REPLY_SUBJECT_WORDS = ("out of office", "out of the office", "automatic reply", "auto-reply", "autoreply",
                            "vacation", "fuera de la oficina", "respuesta automática", "ausente")


def _decayed(member: Member, now: datetime) -> float:
    if not member.bounce_scored_at or not member.bounce_score:
        return 0.0
    scored_at = member.bounce_scored_at
    if scored_at.tzinfo is None:  # SQLite returns naive UTC
        scored_at = scored_at.replace(tzinfo=timezone.utc)
    days = max((now - scored_at).total_seconds() / 86400, 0)
    return member.bounce_score * 0.5 ** (days / current_app.config["BOUNCE_HALF_LIFE_DAYS"])


def record_bounce(member: Member, kind: str, diagnostic: str, outbound_email_id: int | None = None) -> bool:
    """Add a bounce to the member's score; True if it pushed them over the threshold (now suppressed)."""
    now = datetime.now(timezone.utc)
    threshold = current_app.config["BOUNCE_THRESHOLD"]
    db.session.add(BounceEvent(member_id=member.id, outbound_email_id=outbound_email_id, address=member.email,
                               kind=kind, diagnostic=diagnostic[:2000]))
    member.bounce_score = _decayed(member, now) + (threshold if kind == "hard" else SOFT_WEIGHT)
    member.bounce_scored_at = now
    if member.bounce_score >= threshold and member.status == "active":
        member.status = "bounced"
        if not db.session.scalar(select(Suppression).where(Suppression.address == member.email)):
            db.session.add(Suppression(address=member.email, reason="bounced"))
        audit.record(None, "member.bounced", "member", member.id, score=round(member.bounce_score, 2),
                     last=diagnostic[:200])
        return True
    return False


def is_auto_reply(message: EmailMessage) -> bool:
    """Out-of-office and other automatic replies (RFC 3834 and common conventions)."""
    auto = (message.get("Auto-Submitted") or "no").strip().lower()
    if auto != "no" and not message.get_content_type() == "multipart/report":
        return True
    if message.get("X-Autoreply") or message.get("X-Autorespond") or \
            (message.get("Precedence") or "").lower() in ("auto_reply",):
        return True
    subject = (message.get("Subject") or "").lower()
    return any(word in subject for word in AUTO_REPLY_SUBJECT_WORDS) and \
        message.get_content_type() != "multipart/report"


def handle_bounce_message(raw: bytes, envelope_to: str) -> str:
    """Process mail that arrived at a VERP bounce address; returns what was done.

    The VERP address names the outbox row, so we know who bounced even when the
    report is unparseable; flufl.bounce tells temporary from permanent.
    """
    parsed = read_address(envelope_to)
    if parsed is None or parsed[0] != "bounce":
        return "ignored: not one of our bounce addresses"
    message = message_from_bytes(raw, policy=policy.compat32)
    if is_auto_reply(message_from_bytes(raw, policy=policy.default)):
        return "ignored: auto-reply"
    row = db.session.get(OutboundEmail, parsed[1][0])
    member = db.session.get(Member, row.member_id) if row and row.member_id else None
    if member is None:
        return "ignored: unknown message"
    temporary, permanent = all_failures(message)
    diagnostic = _diagnostic(message)
    kind = "soft" if temporary and not permanent else "hard"
    suppressed = record_bounce(member, kind, diagnostic, row.id)
    db.session.commit()
    return f"{kind} bounce recorded" + ("; member suppressed" if suppressed else "")


def _diagnostic(message) -> str:
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload():
                code = block.get("Diagnostic-Code") or block.get("Status")
                if code:
                    return str(code)
    return (message.get("Subject") or "delivery failure")[:200]
