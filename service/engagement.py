"""Member engagement in one community: a member's history there, who has gone quiet, and a personal check-in.

Everything here is scoped to one community: a person who belongs to several
communities shows, on each one's pages, only what they did and received in
that community.

A member's *activity* is what they did themselves: an RSVP answer, attending
a meeting, a submitted form, a charter vote, a shared practice, or a reply a
person wrote (automatic mail, bounces and messages held because the sender
was in doubt are not theirs). A member has *gone quiet* when, active and
reachable, they joined at least QUIET_DAYS ago and did none of that in the
last QUIET_DAYS. The list is computed with one grouped query per kind of
activity, whatever the number of members.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import get_locale, gettext as _
from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import defer

from service import audit, mailer, moments
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.labels import DELIVERY_REASONS
from service.models import (Charter, CharterVote, Community, Coordinator, FormRequest, FormResponse, InboundMessage,
                            Invitation, Meeting, Member, Membership, Organization, OutboundEmail, Practice)

QUIET_DAYS = 60
CHECK_IN_EVERY_DAYS = 30  # at most one check-in per member per community in this many days
CHECK_IN_KIND = "check_in"
# A received message that counts as the member's own activity: read and acted on, or left for a person;
# not automatic mail (ignored), not one whose sender is in doubt (held), not a bounce report.
OWN_REPLY_STATUSES = ("done", "unclear")
OWN_REPLY_PURPOSES = ("reply", "calendar")


@dataclass(frozen=True)
class Entry:
    """One line of a member's history: when, what kind, and what the page shows about it."""
    at: datetime
    kind: str   # joined, invited, answered, attended, absent, form, form_draft, charter_vote, practice, reply, email
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class QuietMember:
    membership_id: int
    member_id: int
    name: str
    email: str
    organization: str
    joined_at: datetime
    last_active_at: datetime | None  # None: nothing at all since they joined
    last_check_in_at: datetime | None
    paused: bool
    next_check_in_at: datetime | None  # when a check-in may go again (None: now)


def history(community: Community, membership: Membership) -> list[Entry]:
    """Everything this member did and received in this community, newest first (nothing from elsewhere).

    Each query reads only the columns the page shows: a long-standing member
    has hundreds of emails and invitations, and whole rows (agendas, contexts,
    raw messages) would cost more than the page.
    """
    member_id, entries = membership.member_id, [Entry(aware(membership.created_at), "joined")]
    for row in db.session.execute(
            select(Invitation.created_at, Invitation.answered_at, Invitation.answer, Invitation.note,
                   Invitation.attended, Meeting.id, Meeting.title, Meeting.starts_at, Meeting.status)
            .join(Meeting, Meeting.id == Invitation.meeting_id)
            .where(Meeting.community_id == community.id, Invitation.member_id == member_id)):
        about = {"meeting_id": row.id, "title": row.title, "starts_at": aware(row.starts_at),
                 "cancelled": row.status == "cancelled"}
        entries.append(Entry(aware(row.created_at), "invited", about))
        if row.answered_at is not None:
            entries.append(Entry(aware(row.answered_at), "answered", {**about, "answer": row.answer,
                                                                      "note": row.note}))
        if row.attended is not None:
            entries.append(Entry(aware(row.starts_at), "attended" if row.attended else "absent", about))
    for row in db.session.execute(
            select(FormResponse.status, FormResponse.submitted_at, FormResponse.updated_at, FormRequest.id,
                   FormRequest.title)
            .join(FormRequest, FormRequest.id == FormResponse.request_id)
            .where(FormRequest.community_id == community.id, FormResponse.member_id == member_id,
                   FormResponse.status != "requested")):
        submitted = row.status == "submitted"
        entries.append(Entry(aware(row.submitted_at if submitted else row.updated_at),
                             "form" if submitted else "form_draft", {"request_id": row.id, "title": row.title}))
    for row in db.session.execute(
            select(CharterVote.decided_at, CharterVote.decision, CharterVote.comment, Charter.version)
            .join(Charter, Charter.id == CharterVote.charter_id)
            .where(Charter.community_id == community.id, CharterVote.member_id == member_id)):
        entries.append(Entry(aware(row.decided_at), "charter_vote",
                             {"decision": row.decision, "comment": row.comment, "version": row.version}))
    for row in db.session.execute(select(Practice.created_at, Practice.title, Practice.status).where(
            Practice.community_id == community.id, Practice.member_id == member_id)):
        entries.append(Entry(aware(row.created_at), "practice", {"title": row.title, "status": row.status}))
    for message in db.session.scalars(select(InboundMessage).options(defer(InboundMessage.raw),
                                                                     defer(InboundMessage.text)).where(
            InboundMessage.community_id == community.id, InboundMessage.member_id == member_id)):
        entries.append(Entry(aware(message.received_at), "reply", {"message": message}))
    for email in db.session.execute(
            select(OutboundEmail.id, OutboundEmail.kind, OutboundEmail.status, OutboundEmail.last_error,
                   OutboundEmail.created_at, OutboundEmail.sent_at)
            .where(OutboundEmail.community_id == community.id, OutboundEmail.member_id == member_id)):
        entries.append(Entry(aware(email.sent_at or email.created_at), "email", {"email": email}))
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def _activity_queries(community_id: int, member_id: int | None):
    """(member_id, newest moment) per member, one grouped query per kind of activity (one member's, if given)."""
    def narrowed(query, member_column):
        return query if member_id is None else query.where(member_column == member_id)
    # An answer to an invitation, or coming to the meeting (its start): one scan of the invitations for both.
    attended_last = and_(Invitation.attended.is_(True),
                         or_(Invitation.answered_at.is_(None), Invitation.answered_at < Meeting.starts_at))
    yield narrowed(select(Invitation.member_id,
                          func.max(case((attended_last, Meeting.starts_at), else_=Invitation.answered_at)).label("at"))
                   .join(Meeting, Meeting.id == Invitation.meeting_id)
                   .where(Meeting.community_id == community_id,
                          or_(Invitation.answered_at.is_not(None), Invitation.attended.is_(True))),
                   Invitation.member_id).group_by(Invitation.member_id)
    yield narrowed(select(FormResponse.member_id, func.max(FormResponse.submitted_at))
                   .join(FormRequest, FormRequest.id == FormResponse.request_id)
                   .where(FormRequest.community_id == community_id, FormResponse.status == "submitted"),
                   FormResponse.member_id).group_by(FormResponse.member_id)
    yield narrowed(select(CharterVote.member_id, func.max(CharterVote.decided_at))
                   .join(Charter, Charter.id == CharterVote.charter_id)
                   .where(Charter.community_id == community_id), CharterVote.member_id) \
        .group_by(CharterVote.member_id)
    yield narrowed(select(Practice.member_id, func.max(Practice.created_at))
                   .where(Practice.community_id == community_id, Practice.member_id.is_not(None)),
                   Practice.member_id).group_by(Practice.member_id)
    yield narrowed(select(InboundMessage.member_id, func.max(InboundMessage.received_at))
                   .where(InboundMessage.community_id == community_id, InboundMessage.member_id.is_not(None),
                          InboundMessage.status.in_(OWN_REPLY_STATUSES),
                          InboundMessage.purpose.in_(OWN_REPLY_PURPOSES),
                          or_(InboundMessage.outcome.is_(None), InboundMessage.outcome != "bounce")),
                   InboundMessage.member_id).group_by(InboundMessage.member_id)


def _last_activity(community_id: int, member_id: int | None = None):
    """Subquery: (member_id, at) with each member's newest activity here; members with none have no row.

    The kinds' grouped queries are put together in the database, which hands
    back one row per member instead of one per member and kind.
    """
    every_kind = union_all(*_activity_queries(community_id, member_id)).subquery()
    return (select(every_kind.c.member_id, func.max(every_kind.c.at).label("at"))
            .group_by(every_kind.c.member_id).subquery())


def last_activity_of(community: Community, member_id: int) -> datetime | None:
    """This member's newest activity in this community, or None."""
    last = _last_activity(community.id, member_id)
    return aware(db.session.scalar(select(last.c.at)))


def _last_check_ins(community_id: int):
    """Subquery: (member_id, at) of the last check-in queued to each member from this community."""
    return (select(OutboundEmail.member_id, func.max(OutboundEmail.created_at).label("at"))
            .where(OutboundEmail.community_id == community_id, OutboundEmail.kind == CHECK_IN_KIND)
            .group_by(OutboundEmail.member_id).subquery())


def gone_quiet(community: Community, at: datetime | None = None) -> list[QuietMember]:
    """Active, reachable members here for QUIET_DAYS or more with no activity in the last QUIET_DAYS.

    Activity exactly QUIET_DAYS ago still counts as recent. Longest quiet first
    (those with no activity at all before anyone), then by name. One statement:
    the database reads only the quiet members' rows back.
    """
    at = at or now()
    cutoff = at - timedelta(days=QUIET_DAYS)
    last, checked = _last_activity(community.id), _last_check_ins(community.id)
    rows = db.session.execute(
        select(Membership.id, Membership.member_id, Membership.name, Member.email, Organization.name,
               Membership.created_at, last.c.at, checked.c.at, Member.paused)
        .join(Member, Member.id == Membership.member_id)
        .outerjoin(Organization, Organization.id == Membership.organization_id)
        .outerjoin(last, last.c.member_id == Membership.member_id)
        .outerjoin(checked, checked.c.member_id == Membership.member_id)
        .where(Membership.community_id == community.id, Membership.status == "active", Member.status == "active",
               Membership.created_at <= cutoff, or_(last.c.at.is_(None), last.c.at < cutoff)))
    quiet = [QuietMember(membership_id, member_id, name, email, organization or "", aware(joined), aware(last_at),
                         aware(check_in_at), paused, _next_check_in(aware(check_in_at), at))
             for membership_id, member_id, name, email, organization, joined, last_at, check_in_at, paused in rows]
    return sorted(quiet, key=lambda q: (q.last_active_at is not None, q.last_active_at or at, q.name.lower()))


def _next_check_in(last: datetime | None, at: datetime) -> datetime | None:
    """When the next check-in may go, or None when it may go now."""
    if last is None:
        return None
    allowed = last + timedelta(days=CHECK_IN_EVERY_DAYS)
    return allowed if allowed > at else None


def _check_ins_to(community: Community, member_id: int) -> tuple[int, datetime | None]:
    """How many check-ins this community has queued to the member, and when the last one was."""
    count, last = db.session.execute(
        select(func.count(), func.max(OutboundEmail.created_at))
        .where(OutboundEmail.community_id == community.id, OutboundEmail.member_id == member_id,
               OutboundEmail.kind == CHECK_IN_KIND)).one()
    return count, aware(last)


def next_check_in(community: Community, member_id: int, at: datetime | None = None) -> datetime | None:
    """When the next check-in to this member may go from this community, or None when it may go now."""
    return _next_check_in(_check_ins_to(community, member_id)[1], at or now())


def send_check_in(actor: Coordinator, community: Community, membership: Membership,
                  at: datetime | None = None) -> None:
    """Queue a personal check-in email to this member, in their language; the caller commits.

    Refused (DomainError) for a member who is inactive here, cannot receive
    mail, or got one less than CHECK_IN_EVERY_DAYS ago. The idempotency key
    counts this member's earlier check-ins here, so two clicks at once queue
    one email: the second insert finds the key taken.
    """
    at = at or now()
    member = membership.member
    if membership.status != "active":
        raise DomainError(_("%(name)s is inactive in this community.", name=membership.name))
    reason = mailer.suppression_reason(member, mailer.suppressed_addresses([member.email]))
    if reason:
        raise DomainError(_("%(name)s is not receiving email (%(reason)s), so no check-in was sent.",
                            name=membership.name, reason=DELIVERY_REASONS.get(reason, reason)))
    earlier, last = _check_ins_to(community, member.id)
    next_allowed = _next_check_in(last, at)
    if next_allowed is not None:
        raise DomainError(_("%(name)s already got a check-in on %(sent)s; another can go from %(next)s.",
                            name=membership.name, sent=_day(last, community), next=_day(next_allowed, community)))
    queued = mailer.queue_email(CHECK_IN_KIND, member, f"{CHECK_IN_KIND}:{community.id}:{member.id}:{earlier}",
                                {"sender_name": actor.name}, community=community)
    if not queued:
        raise DomainError(_("A check-in to %(name)s is already on its way.", name=membership.name))
    audit.record(actor, "member.check_in", "membership", membership.id, community.id, member_id=member.id)


def _day(moment: datetime, community: Community) -> str:
    """The date of a moment in the community's time zone, as the coordinator's language writes it."""
    return moments.text(moment, community.time_zone, str(get_locale()), "day")
