"""Nudges: in one click, a coordinator writes to the members who have not answered a meeting or a form yet.

Who is written to: invitees with no RSVP (a meeting) or members asked who have not submitted (a form
request), still active in the community and receiving mail (not paused, bounced or unsubscribed). The
emails are the existing reminders (meeting_reminder, form_reminder), so each reads in the member's language
with their own RSVP or form link. Each member is nudged at most once per meeting or request: the outbox's
idempotency key names both, so a second click queues nothing and the page says so.
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import String, cast, exists, literal, select

from service import audit, mailer
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.models import (Community, Coordinator, FormRequest, FormResponse, Invitation, Meeting, Member,
                            Membership, OutboundEmail, Suppression)
from service.responses import is_open


@dataclass
class Nudge:
    """What the nudge button offers: who it would remind (member id -> the email's context), and how many
    were already reminded by an earlier nudge."""
    to_remind: dict[int, int]
    already: int
    key_prefix: str  # with the member id, the outbox key: once per meeting or request and member


def _waiting(community_id: int, query, context, key_prefix: str) -> Nudge:
    """Among the members `query` selects (not answered), those active here and receiving mail, split by
    whether a nudge already went to them. One query: the page shows the count on every load."""
    key = literal(key_prefix) + cast(Member.id, String)
    rows = db.session.execute(query.with_only_columns(
        Member.id, context, exists().where(OutboundEmail.idempotency_key == key))
        .join(Membership, (Membership.member_id == Member.id) & (Membership.community_id == community_id))
        .where(Membership.status == "active", Member.status == "active", Member.paused.is_(False),
               ~exists().where(Suppression.address == Member.email))).all()
    return Nudge(to_remind={member_id: value for member_id, value, nudged in rows if not nudged},
                 already=sum(1 for *_rest, nudged in rows if nudged), key_prefix=key_prefix)


def for_meeting(meeting: Meeting) -> Nudge:
    """Invitees who have not answered, split into those a nudge would reach and those already nudged."""
    return _waiting(meeting.community_id, select(Member).join(Invitation, Invitation.member_id == Member.id)
                    .where(Invitation.meeting_id == meeting.id, Invitation.answer.is_(None)),
                    Invitation.meeting_id, f"nudge:meeting:{meeting.id}:")


def for_form(form_request: FormRequest) -> Nudge:
    """Members asked who have not submitted, split as for_meeting does."""
    return _waiting(form_request.community_id, select(Member).join(FormResponse, FormResponse.member_id == Member.id)
                    .where(FormResponse.request_id == form_request.id, FormResponse.status != "submitted"),
                    FormResponse.id, f"nudge:form:{form_request.id}:")


def _send(kind: str, nudge: Nudge, context_key: str, community: Community) -> int:
    people = db.session.scalars(select(Member).where(Member.id.in_(list(nudge.to_remind))).order_by(Member.id))
    return mailer.queue_bulk(kind, people, key_for=lambda m: f"{nudge.key_prefix}{m.id}",
                             context_for=lambda m: {context_key: nudge.to_remind[m.id]}, community=community)


def _check_active(community: Community) -> None:
    if community.archived_at is not None:
        raise DomainError(_("This community is archived: no reminders are sent from it."))


def nudge_meeting(actor: Coordinator | None, meeting: Meeting) -> int:
    """Remind the invitees who have not answered (once each); returns how many emails were queued."""
    _check_active(meeting.community)
    if meeting.status != "scheduled" or aware(meeting.starts_at) <= now():
        raise DomainError(_("This meeting was cancelled or has started: there is nothing to answer any more."))
    queued = _send("meeting_reminder", for_meeting(meeting), "meeting_id", meeting.community)
    if queued:
        audit.record(actor, "meeting.nudge", "meeting", meeting.id, meeting.community_id, reminded=queued)
    return queued


def nudge_form(actor: Coordinator | None, form_request: FormRequest) -> int:
    """Remind the members who have not submitted the form (once each); returns how many emails were queued."""
    community = db.session.get(Community, form_request.community_id)
    _check_active(community)
    if not is_open(form_request):
        raise DomainError(_("This form is closed: answers can no longer be sent."))
    queued = _send("form_reminder", for_form(form_request), "response_id", community)
    if queued:
        audit.record(actor, "form.nudge", "form_request", form_request.id, community.id, reminded=queued)
    return queued
