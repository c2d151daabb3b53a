"""What the meetings dashboard reads: a community's meetings, their answer and attendance rates, who is
invited and who could be (service/meetings.py changes meetings; this module only reads them)."""
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import contains_eager

from service.clock import now
from service.extensions import db
from service.models import Community, Invitation, Meeting, Member, Membership


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
