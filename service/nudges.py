"""Nudges: in one click, a coordinator writes to the members who have not answered a meeting or a form yet.

Who is written to: invitees with no RSVP (a meeting) or members asked who have not submitted (a form
request), still active in the community and receiving mail (not paused, bounced or unsubscribed). The
emails are the existing reminders (meeting_reminder, form_reminder), so each reads in the member's language
with their own RSVP or form link. Each member is nudged at most once per meeting or request: the outbox's
idempotency key names both, so a second click queues nothing and the page says so.
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from service import audit, mailer
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.models import (Community, Coordinator, FormRequest, FormResponse, Invitation, Meeting, Member,
                            Membership, OutboundEmail)
from service.responses import is_open


@dataclass
class Nudge:
    """What the nudge button offers: members not reminded yet, and those already reminded by a nudge."""
    to_remind: list[Member]
    already: int
    context: dict  # member id -> the email's context


def _reachable(community_id: int, query) -> list[tuple[Member, int]]:
    """The members `query` selects (with a context column) who are active here and receiving mail."""
    rows = db.session.execute(query.join(Membership, (Membership.member_id == Member.id)
                                         & (Membership.community_id == community_id))
                              .where(Membership.status == "active").order_by(Member.id)).all()
    suppressed = mailer.suppressed_addresses(member.email for member, _context in rows)
    return [(member, context) for member, context in rows if mailer.suppression_reason(member, suppressed) is None]


def _split(rows: list, key_for) -> Nudge:
    keys = {key_for(member.id): member.id for member, _context in rows}
    sent = set(db.session.scalars(select(OutboundEmail.idempotency_key).where(
        OutboundEmail.idempotency_key.in_(list(keys))))) if keys else set()
    return Nudge(to_remind=[member for member, _c in rows if key_for(member.id) not in sent], already=len(sent),
                 context={member.id: context for member, context in rows})


def _meeting_key(meeting: Meeting):
    return lambda member_id: f"nudge:meeting:{meeting.id}:{member_id}"


def _form_key(form_request: FormRequest):
    return lambda member_id: f"nudge:form:{form_request.id}:{member_id}"


def for_meeting(meeting: Meeting) -> Nudge:
    """Invitees who have not answered, split into those a nudge would reach and those already nudged."""
    rows = _reachable(meeting.community_id, select(Member, Invitation.meeting_id).join(
        Invitation, Invitation.member_id == Member.id).where(
        Invitation.meeting_id == meeting.id, Invitation.answer.is_(None)))
    return _split(rows, _meeting_key(meeting))


def for_form(form_request: FormRequest) -> Nudge:
    """Members asked who have not submitted, split as for_meeting does."""
    rows = _reachable(form_request.community_id, select(Member, FormResponse.id).join(
        FormResponse, FormResponse.member_id == Member.id).where(
        FormResponse.request_id == form_request.id, FormResponse.status != "submitted"))
    return _split(rows, _form_key(form_request))


def _check_active(community: Community) -> None:
    if community.archived_at is not None:
        raise DomainError(_("This community is archived: no reminders are sent from it."))


def nudge_meeting(actor: Coordinator | None, meeting: Meeting) -> int:
    """Remind the invitees who have not answered (once each); returns how many emails were queued."""
    _check_active(meeting.community)
    if meeting.status != "scheduled" or aware(meeting.starts_at) <= now():
        raise DomainError(_("This meeting was cancelled or has started: there is nothing to answer any more."))
    nudge, key_for = for_meeting(meeting), _meeting_key(meeting)
    queued = mailer.queue_bulk("meeting_reminder", nudge.to_remind, key_for=lambda m: key_for(m.id),
                               context_for=lambda m: {"meeting_id": meeting.id}, community=meeting.community)
    if queued:
        audit.record(actor, "meeting.nudge", "meeting", meeting.id, meeting.community_id, reminded=queued)
    return queued


def nudge_form(actor: Coordinator | None, form_request: FormRequest) -> int:
    """Remind the members who have not submitted the form (once each); returns how many emails were queued."""
    community = db.session.get(Community, form_request.community_id)
    _check_active(community)
    if not is_open(form_request):
        raise DomainError(_("This form is closed: answers can no longer be sent."))
    nudge, key_for = for_form(form_request), _form_key(form_request)
    queued = mailer.queue_bulk("form_reminder", nudge.to_remind, key_for=lambda m: key_for(m.id),
                               context_for=lambda m: {"response_id": nudge.context[m.id]}, community=community)
    if queued:
        audit.record(actor, "form.nudge", "form_request", form_request.id, community.id, reminded=queued)
    return queued
