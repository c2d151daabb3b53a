"""A coordinator's message to every active member of a community, sent through the outbox."""
from flask_babel import gettext as _
from sqlalchemy import select

from service import audit, bilingual, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Coordinator, Member, Membership

MAX_SUBJECT = 150
MAX_BODY = 20_000


def active_members(community: Community) -> list[Member]:
    """Members with an active membership here (suppression is the outbox's business)."""
    return list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(Member.id)))


def send_announcement(actor: Coordinator, community: Community, subject: str, body: str, nonce: str,
                      subject_es: str = "", body_es: str = "") -> int:
    """Queue the message to everyone; `nonce` comes from the form, so a double submit sends once.

    `subject` and `body` are the English text, `subject_es` and `body_es` the
    Spanish; one language is enough, and each member gets theirs (service.bilingual).
    Returns how many emails were newly queued (including suppressed rows).
    """
    context = check_texts(subject, body, subject_es, body_es)
    if not nonce or len(nonce) > 64:
        raise DomainError(_("The form expired. Please try again."))
    queued = mailer.queue_bulk(
        "announcement", active_members(community),
        key_for=lambda m: f"announcement:{community.id}:{nonce}:{m.id}",
        context_for=lambda m: context, community=community)
    if queued:
        audit.record(actor, "announcement.send", "community", community.id, community.id,
                     subject=context["subject"] or context["subject_es"], recipients=queued)
    return queued


def check_texts(subject: str, body: str, subject_es: str = "", body_es: str = "") -> dict:
    """The message's texts as an outbox context, normalised and checked: a subject and a message in at least
    one language, and in each language either both or neither."""
    texts = {"subject": normalize.text(subject), "body": normalize.text(body, multiline=True),
             "subject_es": normalize.text(subject_es), "body_es": normalize.text(body_es, multiline=True)}
    bilingual.require_one(texts["subject"], texts["subject_es"], "subject", _("Write a subject."))
    bilingual.require_one(texts["body"], texts["body_es"], "body", _("Write the message."))
    for suffix in ("", "_es"):
        subject_field, body_field = f"subject{suffix}", f"body{suffix}"
        if len(texts[subject_field]) > MAX_SUBJECT:
            raise DomainError(_("Keep the subject under %(n)d characters.", n=MAX_SUBJECT), subject_field)
        if len(texts[body_field]) > MAX_BODY:
            raise DomainError(_("The message is too long."), body_field)
        if texts[subject_field] and not texts[body_field]:
            raise DomainError(_("Write the message in this language too, or leave its subject empty."), body_field)
        if texts[body_field] and not texts[subject_field]:
            raise DomainError(_("Write the subject in this language too, or leave its message empty."),
                              subject_field)
    return texts
