"""Calendar answers: an iTIP REPLY from a member's calendar becomes their RSVP.

The invitation names `calendar+MEETING.SIG@INBOUND_DOMAIN` as its ORGANIZER,
so the Accept / Maybe / Decline buttons of Gmail, Outlook and Apple Calendar
send their REPLY there; a few clients send it to the email's Reply-To (the
member's reply+ address) instead, which the reply handler passes here first.
The answer counts only when its UID is the meeting's, its ATTENDEE is a member
invited to it and the message comes From that member's address; anything else
waits for a coordinator with the reason, and nothing is recorded. No
confirmation is mailed: the member's calendar already shows the answer.
"""
from sqlalchemy import select

from service import meeting_series, meetings, normalize
from service.errors import DomainError
from service.extensions import db
from service.inbound import itip, process
from service.inbound.automatic import automatic_reason
from service.inbound.itip import CalendarReply
from service.models import Community, Invitation, Meeting, MeetingSeries, Member


def handle(row, incoming, meeting: Meeting) -> None:
    """A message to the meeting's calendar address: record the answer, or say why not.

    Calendar servers may send an answer with Auto-Submitted or from a robot
    address, so only a message holding no answer is checked for being automatic
    (an out-of-office notice is then ignored; no mail is ever sent from here).
    """
    replies = itip.calendar_replies(incoming)
    if replies:
        _settle(row, incoming, replies, meeting)
        return
    automatic = automatic_reason(incoming)  # only now: a calendar marks its answers automatic, often
    if automatic:
        process.finish(row, "ignored", reason=automatic)
        return
    _no_answer(row, incoming, meeting)


def handle_if_calendar_reply(row, incoming, member: Member, community: Community) -> bool:
    """For the reply handler, before it reads the words: True when the message was a calendar
    answer and is settled here (recorded, or held with the reason); False when it holds none."""
    replies = itip.calendar_replies(incoming)
    if not replies:
        return False
    meeting = _meeting_with_uid({reply.uid for reply in replies})
    if meeting is None or meeting.community_id != community.id:
        _unknown_meeting(row, replies, meeting)
        return True
    _settle(row, incoming, replies, meeting, member=member)
    return True


def _settle(row, incoming, replies: list[CalendarReply], meeting: Meeting, member: Member | None = None) -> None:
    """Record the answer of `replies` about `meeting`, or finish the row 'held' / 'unclear' with the reason.

    `member` is the one a signed reply+ address already names; to the calendar
    address, the ATTENDEE names them and From must be theirs.
    """
    about = [reply for reply in replies if reply.uid == meeting.uid]
    if not about and meeting.series is not None and meeting.series.invitation == "series":
        # The recurring event's answer: for the series' next meeting on, like an answer to its invitation.
        about = [reply for reply in replies if reply.uid == meeting.series.uid]
        meeting = meeting_series.next_open(meeting.series) or meeting
    if not about:
        _unknown_meeting(row, replies, _meeting_with_uid({reply.uid for reply in replies}), addressed=meeting)
        return
    sender = _address(incoming.from_address)
    reply = next((r for r in about if r.attendee == sender), about[0])
    attendee = _address(reply.attendee)
    found = dict(object_kind="meeting", object_id=meeting.id, community_id=meeting.community_id, text=reply.comment)
    detail = dict(uid=reply.uid, sequence=reply.sequence, attendee=attendee, partstat=reply.partstat)
    if member is not None and attendee != member.email:
        _finish(row, "held", f"The calendar answer is for {attendee or 'an unnamed attendee'}, not for "
                f"{member.email}, whose reply address it was sent to. Nothing was recorded.", found, detail)
        return
    member, invitation = _invited(meeting, member, attendee)
    if invitation is None:
        _finish(row, "held", f"The calendar answer is for {attendee or 'an attendee with no email address'}, "
                f"who is not invited to \"{meeting.title}\" (it may be another address of someone who is). "
                "Nothing was recorded.", found, detail)
        return
    if sender != member.email:
        _finish(row, "held", f"The calendar answer names {member.email} but was sent from "
                f"{sender or 'an unknown address'}. Nothing was recorded.", found, detail)
        return
    if reply.answer is None:
        _finish(row, "unclear", f"The calendar answered {reply.partstat} rather than accept, maybe or decline. "
                "Nothing was recorded.", found, detail, member=member)
        return
    try:
        meetings.record_rsvp(meeting, member, reply.answer, note=reply.comment, via="calendar", invitation=invitation)
    except DomainError as error:
        _finish(row, "unclear", f"{error.message} The calendar's answer ({reply.answer}) was not recorded.",
                found, detail, member=member)
        return
    _finish(row, "done", "", found, detail, member=member, outcome="calendar_rsvp", answer=reply.answer)


def _invited(meeting: Meeting, member: Member | None, attendee: str) -> tuple[Member | None, Invitation | None]:
    """The member (the one given, else the one with the attendee's address) and their invitation to the meeting;
    to the calendar address, both in one query."""
    if member is not None:
        return member, meetings.invitation_for(meeting, member)
    found = db.session.execute(select(Member, Invitation).outerjoin(
        Invitation, (Invitation.meeting_id == meeting.id) & (Invitation.member_id == Member.id))
        .where(Member.email == attendee)).first()
    return (found[0], found[1]) if found is not None else (None, None)


def _no_answer(row, incoming, meeting: Meeting) -> None:
    problems = "; ".join(p for p in incoming.problems if p.startswith("calendar:"))
    _finish(row, "unclear", "This message to the meeting's calendar address holds no calendar answer "
            "(accept, maybe or decline)" + (f": {problems}" if problems else ".") + " Nothing was recorded.",
            dict(object_kind="meeting", object_id=meeting.id, community_id=meeting.community_id), {})


def _unknown_meeting(row, replies: list[CalendarReply], meeting: Meeting | None,
                     addressed: Meeting | None = None) -> None:
    """The answer's UID is no meeting of ours, or another meeting than the address (or community) says."""
    uids = ", ".join(sorted({reply.uid or "(none)" for reply in replies}))[:300]
    if meeting is None:
        reason = f"The calendar answer is about an event we do not know (UID {uids}). Nothing was recorded."
        status = "unclear"
    else:
        reason = ("The calendar answer is about another meeting than the address it was sent to belongs to. "
                  "Nothing was recorded.")
        status = "held"
    found = {}
    if addressed is not None:
        found = dict(object_kind="meeting", object_id=addressed.id, community_id=addressed.community_id)
    _finish(row, status, reason, found, dict(uid=uids))


def _finish(row, status: str, reason: str, found: dict, detail: dict, member: Member | None = None,
            outcome: str | None = None, **more) -> None:
    for field, value in found.items():
        setattr(row, field, value)
    if member is not None:
        row.member_id = member.id
    process.finish(row, status, outcome=outcome, reason=reason, **detail, **more)


def _meeting_with_uid(uids: set[str]) -> Meeting | None:
    """The meeting with one of these UIDs; for a recurring series' UID, its next meeting (or its last)."""
    meeting = db.session.scalar(select(Meeting).where(Meeting.uid.in_(uids)).order_by(Meeting.id).limit(1))
    if meeting is None:
        series = db.session.scalar(select(MeetingSeries).where(MeetingSeries.uid.in_(uids)).limit(1))
        if series is not None:
            meeting = meeting_series.next_open(series) or meeting_series.occurrences(series)[-1]
    return meeting


def _address(value: str) -> str:
    """An address as members' addresses are stored (lower case, IDNA domain), for comparing."""
    try:
        return normalize.email_address(value)
    except DomainError:
        return normalize.text(value).lower()
