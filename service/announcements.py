"""A coordinator's message to a community's active members, sent through the outbox at once or at a chosen time.

Every announcement is a row (`Announcement`): its text, whom it reaches (an
audience of organizations, roles and languages among the active members;
empty means everyone) and when it goes. A scheduled one waits in the database
until the sweeper finds it due (`send_due`), which claims it with a conditional
UPDATE, so two sweepers at once still send it once; each member's outbox key
names the announcement's nonce, so nothing reaches a member twice. Until it
goes it can be edited or cancelled. Previews and test copies are rendered as
the first member of the audience gets it, with links that act as nobody
(service.test_copies).
"""
import uuid
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select, update

from service import audit, bilingual, clock, mailer, normalize
from service.errors import DomainError
from service.extensions import db
from service.member_list import organizations_here
from service.models import Announcement, Community, Coordinator, Member, Membership, OutboundEmail
from service.models.members import LANGUAGES, ROLES

MAX_SUBJECT = 150
MAX_BODY = 20_000
AUDIENCE_KEYS = ("organization_ids", "roles", "languages")


# --- whom it reaches ------------------------------------------------------------------------------

def audience(community: Community, organization_ids=(), roles=(), languages=()) -> dict:
    """The audience as stored, every value checked against what this community has; refuses anything else."""
    known = {org_id for org_id, _name in organizations_here(community)}
    organization_ids = sorted({int(value) for value in organization_ids or ()})
    if not set(organization_ids) <= known:
        raise DomainError(_("Choose organizations of this community."), "organization_ids")
    roles = sorted(set(roles or ()))
    if not set(roles) <= set(ROLES):
        raise DomainError(_("Choose among the roles offered."), "roles")
    languages = sorted(set(languages or ()))
    if not set(languages) <= set(LANGUAGES):
        raise DomainError(_("Choose among the languages offered."), "languages")
    return {"organization_ids": organization_ids, "roles": roles, "languages": languages}


def _audience_query(community: Community, chosen: dict | None):
    """SELECT of the active members this audience reaches (suppression is the outbox's business)."""
    chosen = chosen or {}
    query = select(Member).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active")
    if chosen.get("organization_ids"):
        query = query.where(Membership.organization_id.in_(chosen["organization_ids"]))
    if chosen.get("roles"):
        query = query.where(Membership.role.in_(chosen["roles"]))
    if chosen.get("languages"):
        query = query.where(Membership.language.in_(chosen["languages"]))
    return query


def recipients(community: Community, chosen: dict | None = None) -> list[Member]:
    """The members this audience reaches, by id."""
    return list(db.session.scalars(_audience_query(community, chosen).order_by(Member.id)))


def recipient_count(community: Community, chosen: dict | None = None) -> int:
    """How many members this audience reaches ("This reaches 23 members"), counted in SQL."""
    return db.session.scalar(select(func.count()).select_from(_audience_query(community, chosen).subquery()))


def active_members(community: Community) -> list[Member]:
    """Every active member (the audience that chose nothing)."""
    return recipients(community)


# --- writing, sending, scheduling -----------------------------------------------------------------

def check_texts(subject: str, body: str, subject_es: str = "", body_es: str = "") -> dict:
    """The message's texts (English, then Spanish: service.bilingual), normalised and checked, as the outbox
    context holds them: a subject and a message in at least one language, and in each language both or neither."""
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


def texts_of(announcement: Announcement) -> dict:
    return {"subject": announcement.subject, "body": announcement.body,
            "subject_es": announcement.subject_es, "body_es": announcement.body_es}


def title(texts: dict) -> str:
    """The subject a coordinator's pages and the audit trail name it by: the English one, else the Spanish."""
    return texts["subject"] or texts["subject_es"]


def _keep_texts(announcement: Announcement, texts: dict) -> None:
    announcement.subject, announcement.body = texts["subject"], texts["body"]
    announcement.subject_es, announcement.body_es = texts["subject_es"], texts["body_es"]


def _checked_send_at(send_at: datetime) -> datetime:
    normalize.within_reach(send_at, "send_date")
    if clock.aware(send_at) <= clock.now():
        raise DomainError(_("Choose a time in the future, or send it now."), "send_date")
    return send_at.replace(microsecond=0)


def send_announcement(actor: Coordinator | None, community: Community, subject: str, body: str, nonce: str,
                      chosen: dict | None = None, send_at: datetime | None = None, subject_es: str = "",
                      body_es: str = "") -> int:
    """Send the message now to its audience (everyone by default), or keep it until `send_at`.

    `subject` and `body` are the English text, `subject_es` and `body_es` the
    Spanish; one language is enough, and each member gets theirs. `nonce`
    comes from the form, so a double submit sends (or schedules) once.
    Returns how many emails were newly queued (including suppressed rows): 0
    when scheduled, or when this nonce was used before.
    """
    texts = check_texts(subject, body, subject_es, body_es)
    if send_at is not None:
        send_at = _checked_send_at(send_at)
    announcement = _by_nonce(community, nonce)
    if announcement is not None and announcement.status != "draft":
        return 0
    announcement = _written(actor, community, announcement, nonce, texts, chosen)
    announcement.status, announcement.send_at = ("scheduled" if send_at else "sent"), send_at
    if send_at is not None:
        audit.record(actor, "announcement.schedule", "announcement", announcement.id, community.id,
                     subject=title(texts), send_at=send_at.isoformat(), audience=announcement.audience)
        return 0
    return _deliver(actor, community, announcement)


def save_draft(actor: Coordinator | None, community: Community, subject: str, body: str, nonce: str,
               chosen: dict | None = None, subject_es: str = "", body_es: str = "") -> Announcement:
    """Keep what the form holds as this nonce's draft, to preview it; refused once that message went."""
    texts = check_texts(subject, body, subject_es, body_es)
    announcement = _by_nonce(community, nonce)
    if announcement is not None and announcement.status != "draft":
        raise DomainError(_("This message was already sent."))
    return _written(actor, community, announcement, nonce, texts, chosen)


def _by_nonce(community: Community, nonce: str) -> Announcement | None:
    if not nonce or len(nonce) > 64:
        raise DomainError(_("The form expired. Please try again."))
    return db.session.scalar(select(Announcement).where(
        Announcement.community_id == community.id, Announcement.nonce == nonce))


def _written(actor, community: Community, announcement: Announcement | None, nonce: str, texts: dict,
             chosen: dict | None) -> Announcement:
    """The draft (new, or this nonce's) holding the checked text and audience."""
    if announcement is None:
        announcement = Announcement(community_id=community.id, nonce=nonce, status="draft")
        db.session.add(announcement)
    announcement.created_by_id = actor.id if actor else None
    _keep_texts(announcement, texts)
    announcement.audience = chosen or audience(community)
    db.session.flush()
    return announcement


def _deliver(actor: Coordinator | None, community: Community, announcement: Announcement) -> int:
    """Queue one email per member of the audience now; each member's key names the announcement's nonce."""
    context = {**texts_of(announcement), "announcement_id": announcement.id}
    queued = mailer.queue_bulk(
        "announcement", recipients(community, announcement.audience),
        key_for=lambda m: f"announcement:{community.id}:{announcement.nonce}:{m.id}",
        context_for=lambda m: context, community=community)
    announcement.status, announcement.sent_at, announcement.recipients = "sent", clock.now(), queued
    audit.record(actor, "announcement.send", "community", community.id, community.id,
                 subject=title(texts_of(announcement)), recipients=queued, announcement=announcement.id,
                 audience=announcement.audience)
    return queued


def send_due() -> int:
    """Send the scheduled announcements whose time has come (the sweeper, every minute); how many went.

    Each is claimed by a conditional UPDATE (scheduled -> sent) in the same
    transaction as its outbox rows, so a second sweeper, or the same one a
    minute later, finds nothing to do.
    """
    sent = 0
    due = db.session.scalars(select(Announcement.id).where(
        Announcement.status == "scheduled", Announcement.send_at <= clock.now()).order_by(Announcement.send_at)).all()
    for announcement_id in due:
        claimed = db.session.execute(
            update(Announcement).where(Announcement.id == announcement_id, Announcement.status == "scheduled")
            .values(status="sent").execution_options(synchronize_session=False)).rowcount
        if claimed:
            announcement = db.session.get(Announcement, announcement_id)
            db.session.refresh(announcement)
            _deliver(None, db.session.get(Community, announcement.community_id), announcement)
            sent += 1
        db.session.commit()
    return sent


def scheduled(community: Community) -> list[Announcement]:
    """The announcements waiting for their time, soonest first."""
    return list(db.session.scalars(select(Announcement).where(
        Announcement.community_id == community.id, Announcement.status == "scheduled")
        .order_by(Announcement.send_at, Announcement.id)))


def scheduled_in(community: Community, announcement_id: int) -> Announcement | None:
    """One of this community's scheduled announcements, or None (any other id, or one that went)."""
    return db.session.scalar(select(Announcement).where(
        Announcement.id == announcement_id, Announcement.community_id == community.id,
        Announcement.status == "scheduled"))


def _check_waiting(announcement: Announcement) -> None:
    if announcement.status != "scheduled":
        raise DomainError(_("This message has already gone, or was cancelled.") if announcement.status == "sent"
                          else _("This message was cancelled."))


def update_scheduled(actor: Coordinator, announcement: Announcement, subject: str, body: str, chosen: dict,
                     send_at: datetime, subject_es: str = "", body_es: str = "") -> None:
    """Change a scheduled announcement before it goes: text, audience, time."""
    _check_waiting(announcement)
    _keep_texts(announcement, check_texts(subject, body, subject_es, body_es))
    announcement.audience, announcement.send_at = chosen, _checked_send_at(send_at)
    audit.record(actor, "announcement.update", "announcement", announcement.id, announcement.community_id,
                 subject=title(texts_of(announcement)), send_at=announcement.send_at.isoformat(), audience=chosen)


def cancel_scheduled(actor: Coordinator, announcement: Announcement) -> None:
    """Cancel a scheduled announcement: nobody gets it."""
    _check_waiting(announcement)
    announcement.status = "cancelled"
    audit.record(actor, "announcement.cancel", "announcement", announcement.id, announcement.community_id,
                 subject=title(texts_of(announcement)))


# --- preview and test copy ------------------------------------------------------------------------

def _example_member(community: Community, chosen: dict | None) -> Member:
    member = db.session.scalar(_audience_query(community, chosen).order_by(Member.id).limit(1))
    if member is None:
        raise DomainError(_("Nobody is reached by this choice: choose other organizations, roles or languages."))
    return member


def preview(community: Community, texts: dict, chosen: dict | None = None):
    """(member, rendered email) of the message as the audience's first member gets it, in their language; its
    links act as nobody."""
    from service.email_render import render
    texts = check_texts(**texts)
    member = _example_member(community, chosen)
    row = OutboundEmail(id=0, kind="announcement", recipient=member.email, context=texts)
    return member, render(row, member, community, preview=True)


def rendered(announcement: Announcement):
    """(member, rendered email) of a kept announcement (draft or scheduled), as its audience's first member gets it."""
    community = db.session.get(Community, announcement.community_id)
    return preview(community, texts_of(announcement), announcement.audience)


def kept_in(community: Community, announcement_id: int) -> Announcement | None:
    """One of this community's announcements that has not gone (draft or scheduled), or None."""
    return db.session.scalar(select(Announcement).where(
        Announcement.id == announcement_id, Announcement.community_id == community.id,
        Announcement.status.in_(("draft", "scheduled"))))


def send_test_copy(actor: Coordinator, community: Community, subject: str, body: str,
                   chosen: dict | None = None, subject_es: str = "", body_es: str = "") -> Member:
    """Queue the message, as the audience's first member gets it, to the coordinator alone (subject marked [TEST],
    links acting as nobody); returns the member it stands for."""
    texts = check_texts(subject, body, subject_es, body_es)
    member = _example_member(community, chosen)
    mailer.staff_copy("announcement_test", member, actor.email, f"announcement-test:{community.id}:{uuid.uuid4().hex}",
                      texts, community)
    audit.record(actor, "announcement.test", "community", community.id, community.id, subject=title(texts),
                 as_member=member.id)
    return member
