"""What the meetings dashboard reads: a community's meetings, their answer and attendance rates, who is
invited and who could be; and what a member's RSVP page reads (service/meetings.py changes meetings; this
module only reads them)."""
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, func, select
from sqlalchemy.orm import contains_eager

from service import members
from service.clock import now
from service.extensions import db
from service.members import KnownMember
from service.models import Community, Invitation, Meeting, Member, Membership


class RsvpPage(NamedTuple):
    """What a member's RSVP page shows: the meeting (its community loaded), the member, the member as the
    community knows them (service.members.known_in), and their invitation (None when they are not invited)."""
    meeting: Meeting
    member: Member
    known: KnownMember | Member
    invitation: Invitation | None


# Built once: constructing a select of four entities costs more than running it.
_RSVP_PAGE = (
    select(Meeting, Member, Invitation, Membership.name, Membership.language)
    .join(Meeting.community).options(contains_eager(Meeting.community))
    .join(Member, Member.id == bindparam("member_id"))
    .outerjoin(Invitation, (Invitation.meeting_id == Meeting.id) & (Invitation.member_id == Member.id))
    .outerjoin(Membership, (Membership.community_id == Meeting.community_id) & (Membership.member_id == Member.id))
    .where(Meeting.id == bindparam("meeting_id")))


def rsvp_page(meeting_id: int, member_id: int) -> RsvpPage | None:
    """The meeting, the member and their invitation, in one query; None when the meeting or the member is
    missing."""
    row = db.session.execute(_RSVP_PAGE, {"meeting_id": meeting_id, "member_id": member_id}).first()
    if row is None:
        return None
    meeting, member, invitation, name, language = row
    known = {member.id: (name, language)} if name is not None else {}
    return RsvpPage(meeting, member, members.known_in(member, meeting.community, known), invitation)


def meeting_in(community: Community, meeting_id: int) -> Meeting | None:
    """The meeting if it belongs to this community, else None (views answer 404)."""
    return db.session.scalar(select(Meeting).where(Meeting.id == meeting_id, Meeting.community_id == community.id))


def community_meetings(community: Community) -> tuple[list[Meeting], list[Meeting]]:
    """(upcoming, soonest first; started or past, latest first), cancelled ones included."""
    moment, query = now(), select(Meeting).where(Meeting.community_id == community.id)
    upcoming = db.session.scalars(query.where(Meeting.starts_at > moment).order_by(Meeting.starts_at, Meeting.id))
    past = db.session.scalars(query.where(Meeting.starts_at <= moment)
                              .order_by(Meeting.starts_at.desc(), Meeting.id.desc()))
    return list(upcoming), list(past)


def meeting_rates(meetings: list[Meeting]) -> dict[int, dict]:
    """Per meeting: invited, answered, yes, attended, and the RSVP rate (answered / invited) and
    attendance rate (attended / invited, None until attendance is taken) as fractions."""
    rows = db.session.execute(select(
        Invitation.meeting_id, func.count(), func.count(Invitation.answer),
        func.count(case((Invitation.answer == "yes", 1))), func.count(case((Invitation.attended.is_(True), 1))))
        .where(Invitation.meeting_id.in_([m.id for m in meetings])).group_by(Invitation.meeting_id))
    counts = {meeting_id: rest for meeting_id, *rest in rows}
    rates = {}
    for meeting in meetings:
        invited, answered, yes, attended = counts.get(meeting.id, (0, 0, 0, 0))
        rates[meeting.id] = {
            "invited": invited, "answered": answered, "yes": yes, "attended": attended,
            "rsvp_rate": answered / invited if invited else None,
            "attendance_rate": attended / invited if invited and meeting.attendance_taken_at else None}
    return rates


def invitations(meeting: Meeting) -> list[Invitation]:
    """Everyone invited, with their member loaded, by name."""
    return list(db.session.scalars(select(Invitation).join(Member).join(Membership, and_(
        Membership.member_id == Member.id, Membership.community_id == meeting.community_id))
        .where(Invitation.meeting_id == meeting.id)
        .options(contains_eager(Invitation.member)).order_by(func.lower(Membership.name))))


def active_members(community: Community) -> list[Member]:
    """Members who can be invited or facilitate, by name."""
    return list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == community.id, Membership.status == "active").order_by(func.lower(Membership.name))))


def uninvited_members(meeting: Meeting) -> list[Member]:
    """Active members of the community not invited to this meeting yet."""
    invited = set(db.session.scalars(select(Invitation.member_id).where(Invitation.meeting_id == meeting.id)))
    return [m for m in active_members(meeting.community) if m.id not in invited]
