"""Rotating facilitation: willing members take upcoming meetings in turn, are told by email, and can hand one on.

The rotation runs in a community while at least MIN_WILLING of its members
are in it (willing, active here, receiving mail): with fewer there is nobody
to rotate with, and there is no switch to forget. It fills only meetings that
have no facilitator, so a facilitator a coordinator chose by hand stays.
Upcoming meetings are filled soonest first, each by the willing invitee who
facilitated least recently (those who never did first, then the longest
ago; ties go to who joined the community first), passing over anyone who
answered No to that meeting or handed it on already. A meeting given to
someone counts as facilitated by them at its start, so the next one goes to
someone else: round-robin, and the same data always gives the same order.

Whoever gets a meeting is told at once by email (`facilitator_assigned`),
with a signed link, and the reply address, to hand it to the next in line,
who is told in turn. Every assignment and hand-over is in the audit trail and
on the meeting's page.
"""
from datetime import datetime, timezone

from flask_babel import gettext as _
from sqlalchemy import func, select

from service import audit, mailer
from service.clock import aware, now
from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.sql import one_of
from service.models import (Community, Coordinator, FacilitatorSwap, Invitation, Meeting, Member, Membership)
from service.tokens import make_token

MIN_WILLING = 2
TOKEN_PURPOSE = "facilitator"
_NEVER = datetime.min.replace(tzinfo=timezone.utc)


def willing_members(community: Community) -> list[Membership]:
    """The rotation: willing members, active here and receiving mail, in the order they joined."""
    return list(db.session.scalars(select(Membership).join(Member).where(
        Membership.community_id == community.id, Membership.willing_to_facilitate.is_(True),
        Membership.status == "active", Member.status == "active", Member.paused.is_(False))
        .order_by(Membership.id)))


def rotation_on(community: Community, willing: list[Membership] | None = None) -> bool:
    return len(willing if willing is not None else willing_members(community)) >= MIN_WILLING


def set_willing(actor: Coordinator | None, membership: Membership, willing: bool) -> bool:
    """Put a member in the rotation or take them out (a coordinator, or the member when `actor` is None);
    upcoming meetings without a facilitator are filled at once. True if it changed."""
    if membership.willing_to_facilitate == willing:
        return False
    membership.willing_to_facilitate = willing
    audit.record(actor, "member.facilitation", "member", membership.member_id, membership.community_id,
                 willing=willing, by="coordinator" if actor else "the member")
    db.session.flush()
    rotate(membership.community)
    return True


def memberships_of(member: Member) -> list[Membership]:
    """The person's active memberships, for their own preferences page (communities by name)."""
    return list(db.session.scalars(select(Membership).join(Community).where(
        Membership.member_id == member.id, Membership.status == "active").order_by(Community.name, Community.id)))


def set_willing_as_member(member: Member, willing_membership_ids: list[int]) -> None:
    """The person's own choice, from their preferences page: in the rotation of exactly these communities."""
    for membership in memberships_of(member):
        set_willing(None, membership, membership.id in willing_membership_ids)


def rotate(community: Community) -> int:
    """Give each upcoming meeting without a facilitator to the next in line, and tell every facilitator of an
    upcoming meeting who has not been told; returns how many meetings were given out."""
    willing = willing_members(community)
    if not rotation_on(community, willing):
        return 0
    last = _last_facilitated(community)
    given = 0
    for meeting in db.session.scalars(select(Meeting).where(
            Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.starts_at > now())
            .order_by(Meeting.starts_at, Meeting.id)).all():
        if meeting.facilitator_id is None:
            chosen = next_in_line(meeting, willing, last)
            if chosen is None:
                continue
            _assign(meeting, chosen)
            last[chosen] = aware(meeting.starts_at)
            given += 1
        elif meeting.facilitator_told_at is None:  # chosen by hand: told too, and may hand it on
            _tell(meeting, meeting.facilitator_id, by_hand=True)
    return given


def _last_facilitated(community: Community) -> dict[int, datetime]:
    """When each member last facilitated (or will, for meetings already given out) in this community."""
    rows = db.session.execute(select(Meeting.facilitator_id, func.max(Meeting.starts_at)).where(
        Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.facilitator_id.is_not(None))
        .group_by(Meeting.facilitator_id))
    return {member_id: aware(moment) for member_id, moment in rows}


def next_in_line(meeting: Meeting, willing: list[Membership], last: dict[int, datetime],
                 passing_over: set[int] = frozenset()) -> int | None:
    """The member id whose turn it is for `meeting`: a willing invitee who did not answer No nor hand it on."""
    available = set(db.session.scalars(select(Invitation.member_id).where(  # only the willing: not every invitee
        Invitation.meeting_id == meeting.id, Invitation.answer.is_distinct_from("no"),
        one_of(Invitation.member_id, [m.member_id for m in willing]))))
    available -= set(passing_over) | handed_on_by(meeting)
    order = [(last.get(m.member_id, _NEVER), m.id, m.member_id) for m in willing if m.member_id in available]
    return min(order)[2] if order else None


def handed_on_by(meeting: Meeting) -> set[int]:
    """Members who handed this meeting on: it is not offered to them again."""
    return set(db.session.scalars(select(FacilitatorSwap.from_member_id).where(
        FacilitatorSwap.meeting_id == meeting.id)))


def _assign(meeting: Meeting, member_id: int, handed_by: Member | None = None) -> None:
    """Make the member the meeting's facilitator (by the rotation, or from the one who handed it on) and tell them."""
    meeting.facilitator_id = member_id
    audit.record(None, "meeting.facilitator", "meeting", meeting.id, meeting.community_id, member=member_id,
                 by=f"handed on by member {handed_by.id}" if handed_by else "rotation")
    _tell(meeting, member_id, handed_by)


def _tell(meeting: Meeting, member_id: int, handed_by: Member | None = None, by_hand: bool = False) -> None:
    """Queue the facilitator's email (once per time they are given this meeting)."""
    member = db.session.get(Member, member_id)
    turn = len(handed_on_by(meeting))
    context = {"meeting_id": meeting.id, "handed_by": handed_by.id if handed_by else None, "by_hand": by_hand}
    mailer.queue_email("facilitator_assigned", member, f"facilitator:{meeting.id}:{member_id}:{turn}", context,
                       meeting.community)
    meeting.facilitator_told_at = now()


def hand_on(meeting: Meeting, member: Member, via: str) -> int:
    """The facilitator gives the meeting to the next in line, who is told; returns the new facilitator's id.

    Refused (DomainError, in the member's language) when they no longer
    facilitate it, it was cancelled or has started, or nobody else is free.
    """
    if meeting.facilitator_id != member.id:
        raise DomainError(_("You no longer facilitate this meeting."))
    if meeting.status != "scheduled":
        raise DomainError(_("This meeting was cancelled."))
    if aware(meeting.starts_at) <= now():
        raise DomainError(_("This meeting has already started, so it can no longer be handed on."))
    chosen = next_in_line(meeting, willing_members(meeting.community), _last_facilitated(meeting.community),
                          passing_over={member.id})
    if chosen is None:
        raise DomainError(_("Nobody else in the rotation is free for this meeting, so it stays with you. "
                            "Reply to this email to tell the coordinator."))
    db.session.add(FacilitatorSwap(meeting_id=meeting.id, from_member_id=member.id, to_member_id=chosen, via=via))
    db.session.flush()
    _assign(meeting, chosen, handed_by=member)
    return chosen


def facilitator_said_no(meeting: Meeting, member: Member) -> None:
    """The facilitator answered No to their own meeting: while the rotation runs, it goes to the next in line
    (if nobody else is free it stays, and the meeting page shows their No)."""
    if meeting.facilitator_id == member.id and rotation_on(meeting.community):
        try:
            hand_on(meeting, member, via="rsvp")
        except DomainError:
            pass


def hand_on_url(meeting: Meeting, member: Member) -> str:
    return public_url("facilitation_links.hand_on", meeting_id=meeting.id,
                      token=make_token(TOKEN_PURPOSE, member.id, meeting.id))


def name_in(community: Community, member_id: int | None) -> str:
    """What this community calls the member ('' for nobody)."""
    if member_id is None:
        return ""
    return db.session.scalar(select(Membership.name).where(
        Membership.community_id == community.id, Membership.member_id == member_id)) or ""


# --- pages ----------------------------------------------------------------------------------------

def swaps(meeting: Meeting) -> list[FacilitatorSwap]:
    """Hand-overs of this meeting, oldest first (the meeting page lists them)."""
    return list(db.session.scalars(select(FacilitatorSwap).where(FacilitatorSwap.meeting_id == meeting.id)
                                   .order_by(FacilitatorSwap.id)))


def overview(community: Community) -> dict:
    """The community page's rotation: whether it runs, who is in it in the order of their turns, and the
    upcoming meetings with their facilitators."""
    willing = willing_members(community)
    last = _last_facilitated(community)
    in_turn = sorted(willing, key=lambda m: (last.get(m.member_id, _NEVER), m.id))
    upcoming = list(db.session.scalars(select(Meeting).where(
        Meeting.community_id == community.id, Meeting.status == "scheduled", Meeting.starts_at > now())
        .order_by(Meeting.starts_at, Meeting.id).limit(10)))
    names = dict(db.session.execute(select(Membership.member_id, Membership.name).where(
        Membership.community_id == community.id, Membership.member_id.in_({m.facilitator_id for m in upcoming}))).all())
    return {"on": rotation_on(community, willing), "min_willing": MIN_WILLING, "in_turn": in_turn,
            "upcoming": upcoming, "names": names}


# --- email content --------------------------------------------------------------------------------

def email_extras(row, member: Member, community: Community) -> dict:
    """The facilitator's email: the meeting as it is now, who handed it over, the link to hand it on."""
    from service.meeting_emails import email_extras as meeting_extras
    extras = meeting_extras(row, member, community)
    extras["facilitator_name"] = ""  # it is the reader
    extras["handed_by"] = name_in(community, row.context.get("handed_by"))
    extras["by_hand"] = bool(row.context.get("by_hand"))
    extras["hand_on_url"] = hand_on_url(extras["meeting"], member)
    return extras


def reply_extras(row, member: Member, community: Community) -> dict:
    """The confirmation of a reply that handed a meeting on: who has it now."""
    from service.inbound.confirmations import email_extras as confirmation_extras
    extras = confirmation_extras(row, member, community)
    extras["taken_by"] = name_in(community, row.context.get("taken_by"))
    return extras
