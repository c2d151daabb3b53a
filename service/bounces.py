"""Bounces: scoring soft and hard failures with decay, and suppressing members over the threshold.

A hard bounce weighs as much as the threshold (one is enough); a soft bounce
weighs one. The score halves every BOUNCE_HALF_LIFE_DAYS, so an address that
bounced once in spring and works now keeps receiving mail. Auto-replies (out
of office, vacation) are never bounces.
"""
import re
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

from flask import current_app
from flufl.bounce import all_failures
from sqlalchemy import delete, select

from service import audit, clock, mailer, normalize
from service.addresses import read_address
from service.errors import DomainError
from service.inbound.automatic import auto_reply_reason
from service.inbound.message import address_of
from service.extensions import db
from service.models import (BounceEvent, CommunityCoordinator, Coordinator, Member, Membership, OutboundEmail,
                            Suppression)
from service.smtp_refusals import printable_line

SOFT_WEIGHT = 1.0
SCORE_TOLERANCE = 1e-6  # five soft bounces in one moment reach a threshold of 5 despite the decay in between
REPORTING_SENDERS = ("mailer-daemon", "postmaster")
SMTP_REPLY = re.compile(r"\b[45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*")


def _decayed(member: Member, now: datetime) -> float:
    if not member.bounce_scored_at or not member.bounce_score:
        return 0.0
    scored_at = clock.aware(member.bounce_scored_at)
    days = max((now - scored_at).total_seconds() / 86400, 0)
    return member.bounce_score * 0.5 ** (days / current_app.config["BOUNCE_HALF_LIFE_DAYS"])


def record_bounce(member: Member, kind: str, diagnostic: str, outbound_email_id: int | None = None) -> bool:
    """Add a bounce to the member's score; True if it pushed them over the threshold (now suppressed)."""
    now = clock.now()
    threshold = current_app.config["BOUNCE_THRESHOLD"]
    db.session.add(BounceEvent(member_id=member.id, outbound_email_id=outbound_email_id, address=member.email,
                               kind=kind, diagnostic=diagnostic[:2000]))
    member.bounce_score = _decayed(member, now) + (threshold if kind == "hard" else SOFT_WEIGHT)
    member.bounce_scored_at = now
    if member.bounce_score >= threshold - SCORE_TOLERANCE and member.status == "active":
        member.status = "bounced"
        mailer.suppress(member.email, "bounced")
        audit.record(None, "member.bounced", "member", member.id, score=round(member.bounce_score, 2),
                     last=diagnostic[:200])
        return True
    return False


def is_delivery_report(message: EmailMessage) -> bool:
    """An MTA's report on a delivery: a DSN, or an Exim/Gmail-style bounce (these carry Auto-Submitted too)."""
    sender = address_of(str(message.get("From") or ""))[1].partition("@")[0].lower()
    return message.get_content_type() == "multipart/report" or bool(message.get("X-Failed-Recipients")) \
        or sender in REPORTING_SENDERS


def is_auto_reply(message: EmailMessage) -> bool:
    """Out-of-office and other automatic replies (RFC 3834 and common conventions), not delivery reports."""
    return not is_delivery_report(message) and auto_reply_reason(message) is not None


def handle_bounce_message(raw: bytes, envelope_to: str, decoded: EmailMessage | None = None) -> str:
    """Process mail that arrived at a VERP bounce address; returns what was done (`decoded`, and who commits: see
    record_report).

    The VERP address names the outbox row, so we know who bounced even when the
    report is unparseable; flufl.bounce tells temporary from permanent. A
    report it cannot read counts as a soft bounce: repeated, it suppresses,
    but one unreadable message never cuts a member off.
    """
    parsed = read_address(envelope_to)
    if parsed is None or parsed[0] != "bounce":
        return "ignored: not one of our bounce addresses"
    return record_report(raw, db.session.get(OutboundEmail, parsed[1][0]), decoded)


def returned_row(raw: bytes) -> OutboundEmail | None:
    """The outbox row a delivery report sent to another of our addresses (a reply address) is about.

    Some servers report to the From or Reply-To address instead of the
    envelope sender: the returned message's Message-ID names the row.
    """
    message = message_from_bytes(raw, policy=policy.compat32)
    for part in message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            returned = payload[0] if isinstance(payload, list) and payload else \
                message_from_bytes(part.get_payload(decode=True) or b"", policy=policy.compat32)
            message_id = str(returned.get("Message-ID") or "").strip()
            if message_id:
                return db.session.scalar(select(OutboundEmail).where(OutboundEmail.message_id == message_id))
    return None


def record_report(raw: bytes, row: OutboundEmail | None, decoded: EmailMessage | None = None) -> str:
    """Score a delivery report about `row` against its member; returns what was done. The caller commits: inbound
    processing commits the bounce with the message's own outcome, in one transaction (committing here expired the
    message's row, which was then read again, raw message and all, to record that outcome).

    `decoded` is `raw` as already read with headers decoded (inbound processing's
    read_message), so it is not parsed a third time; without it, it is parsed here.
    """
    message = message_from_bytes(raw, policy=policy.compat32)  # as flufl.bounce's detectors expect it
    if decoded is None:
        decoded = message_from_bytes(raw, policy=policy.default)  # headers decoded (RFC 2047, 8-bit)
    if is_auto_reply(decoded):
        return "ignored: auto-reply"
    # Locked, so bounces processed at once for one member add up instead of overwriting each other.
    member = db.session.get(Member, row.member_id, with_for_update=True, populate_existing=True) \
        if row and row.member_id else None
    if member is None:
        return "ignored: unknown message"
    if row.recipient.lower() != member.email.lower():
        return "ignored: the member's address has changed since"
    try:
        _temporary, permanent = all_failures(message)
    except Exception:  # flufl.bounce re-raises its detectors' errors on malformed mail
        current_app.logger.warning("could not scan bounce for outbox row %s", row.id, exc_info=True)
        permanent = frozenset()
    diagnostic = _diagnostic(message, str(decoded.get("Subject") or ""))
    kind = "hard" if permanent else "soft"
    suppressed = record_bounce(member, kind, diagnostic, row.id)
    return f"{kind} bounce recorded" + ("; member suppressed" if suppressed else "")


def _diagnostic(message, subject: str) -> str:
    """What the remote server said: the DSN's Diagnostic-Code or Status, an SMTP reply in the text, or the subject."""
    parts = list(message.walk())
    for part in parts:
        if part.get_content_type() == "message/delivery-status" and part.is_multipart():
            for block in part.get_payload():
                code = block.get("Diagnostic-Code") or block.get("Status")
                if code:
                    return printable_line(str(code))
    for part in parts:
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True) or b""
            found = SMTP_REPLY.search(payload.decode("ascii", errors="replace"))
            if found:
                return printable_line(found.group())
            break  # the first text part is the report; later ones are the returned message
    return printable_line(subject or "delivery failure")[:200]


def may_lift_suppression(actor: Coordinator, member: Member) -> bool:
    """Whether `actor` may let mail reach `member` again: an admin, or the coordinator of every community the
    member belongs to (a member shared with another coordinator's community is the admin's call)."""
    if actor.is_admin:
        return True
    theirs = set(db.session.scalars(select(Membership.community_id).where(Membership.member_id == member.id)))
    mine = set(db.session.scalars(select(CommunityCoordinator.community_id)
                                  .where(CommunityCoordinator.coordinator_id == actor.id)))
    return bool(theirs) and theirs <= mine


def lift_suppression(actor: Coordinator | None, member: Member, **details) -> bool:
    """Send to a member suppressed for bouncing again (their address works now), audited; False if not bounced.

    The caller checks may_lift_suppression and commits. An unsubscribe or a
    complaint is the member's own choice and is never lifted here.
    """
    if member.status != "bounced":
        return False
    member.status, member.bounce_score, member.bounce_scored_at = "active", 0.0, None
    db.session.execute(delete(Suppression).where(Suppression.address == member.email,
                                                 Suppression.reason == "bounced"))
    audit.record(actor, "member.bounce_lifted", "member", member.id, address=member.email, **details)
    return True


def unsuppress(email: str) -> str:
    """An administrator's `flask members unsuppress`: mail reaches an address suppressed for bouncing again.

    Audited (as the command line). Refuses an unsubscribe or a complaint: that
    was the member's own choice, undone only by them. Returns the address.
    The caller commits.
    """
    address = normalize.email_address(email)
    member = db.session.scalar(select(Member).where(Member.email == address))
    suppression = db.session.scalar(select(Suppression).where(Suppression.address == address))
    own_choice = ((member is not None and member.status == "unsubscribed")
                  or (suppression is not None and suppression.reason != "bounced"))
    if own_choice:
        raise DomainError(f"{address} unsubscribed (or complained): that is the member's own choice, and only they "
                          "can undo it, from the preferences link in any email they kept.")
    if member is not None and lift_suppression(None, member, via="command line"):
        return address
    if suppression is None:
        raise DomainError(f"{address} is not suppressed: mail already reaches it.")
    db.session.delete(suppression)  # an address bounced that no member holds any more
    audit.record(None, "suppression.lifted", "suppression", suppression.id, address=address, via="command line")
    return address
