"""A coordinator's message to every active member of a community, sent through the outbox."""
from flask_babel import gettext as _
from sqlalchemy import select

from service import audit, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Coordinator, Member, Membership

MAX_SUBJECT = 150
MAX_BODY = 20_000


def active_members(community: Community) -> list[Member]:
    """Members with an active membership here (suppression is the outbox's business)."""
    return list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(Member.id)))


def send_announcement(actor: Coordinator, community: Community, subject: str, body: str, nonce: str) -> int:
    """Queue the message to everyone; `nonce` comes from the form, so a double submit sends once.

    Returns how many emails were newly queued (including suppressed rows).
    """
    subject = normalize.text(subject)
    body = normalize.text(body, multiline=True)
    if not subject:
        raise DomainError(_("Write a subject."), "subject")
    if len(subject) > MAX_SUBJECT:
        raise DomainError(_("Keep the subject under %(n)d characters.", n=MAX_SUBJECT), "subject")
    if not body:
        raise DomainError(_("Write the message."), "body")
    if len(body) > MAX_BODY:
        raise DomainError(_("The message is too long."), "body")
    if not nonce or len(nonce) > 64:
        raise DomainError(_("The form expired. Please try again."))
    context = {"subject": subject, "body": body}
    queued = mailer.queue_bulk(
        "announcement", active_members(community),
        key_for=lambda m: f"announcement:{community.id}:{nonce}:{m.id}",
        context_for=lambda m: context, community=community)
    if queued:
        audit.record(actor, "announcement.send", "community", community.id, community.id,
                     subject=subject, recipients=queued)
    return queued
