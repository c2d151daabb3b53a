"""iCalendar for meeting invitations: REQUEST for new and changed meetings, CANCEL for cancelled ones.

One UID per meeting for its whole life and a SEQUENCE that grows with every
change, so calendar programs update the event instead of adding another.
Times are written in UTC, which every client converts to its own zone.
The ORGANIZER is a signed address of ours (`calendar+MEETING.SIG@INBOUND_DOMAIN`):
the Accept / Maybe / Decline buttons of Gmail, Outlook and Apple Calendar send
their iTIP REPLY there, and the inbound pipeline records it as an RSVP.
"""
from datetime import timedelta, timezone
from icalendar import Calendar, Event, vCalAddress, vText

from service.addresses import make_address
from service.clock import aware, now
from service.models import Meeting, Member

PARTSTAT = {None: "NEEDS-ACTION", "yes": "ACCEPTED", "maybe": "TENTATIVE", "no": "DECLINED"}


def meeting_calendar(meeting: Meeting, member: Member, answer: str | None, method: str,
                     description: str = "") -> str:
    """The VCALENDAR text of this meeting as this member should see it."""
    calendar = _calendar(method)
    event = _event(meeting, description, cancelled=method == "CANCEL")
    attendee = vCalAddress(f"mailto:{member.email}")
    attendee.params["cn"] = vText(member.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText(PARTSTAT.get(answer, "NEEDS-ACTION"))
    if method == "REQUEST":  # a cancellation asks for no answer
        attendee.params["rsvp"] = vText("TRUE")
    event.add("attendee", attendee)
    calendar.add_component(event)
    return calendar.to_ical().decode()


def published_calendar(meetings: list[Meeting]) -> str:
    """Every meeting as one published calendar (a community's export): no attendees, nothing to answer."""
    calendar = _calendar("PUBLISH")
    for meeting in meetings:
        calendar.add_component(_event(meeting, meeting.agenda_plain, cancelled=meeting.status == "cancelled"))
    return calendar.to_ical().decode()


def _calendar(method: str) -> Calendar:
    calendar = Calendar()
    calendar.add("prodid", "-//COP coordination service//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    return calendar


def _event(meeting: Meeting, description: str, cancelled: bool) -> Event:
    event = Event()
    event.add("uid", meeting.uid)
    event.add("sequence", meeting.sequence)
    event.add("dtstamp", now())
    starts = aware(meeting.starts_at)
    event.add("dtstart", starts.astimezone(timezone.utc))
    event.add("dtend", starts.astimezone(timezone.utc) + timedelta(minutes=meeting.duration_minutes))
    event.add("summary", meeting.title)
    if description:
        event.add("description", description)
    place = ", ".join(part for part in (meeting.location, meeting.video_url) if part)
    if place:
        event.add("location", place)
    if meeting.video_url:
        event.add("url", meeting.video_url)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("organizer", organizer_address(meeting))
    return event


def organizer_address(meeting: Meeting) -> vCalAddress:
    """The meeting's ORGANIZER: our signed calendar address, named after the community."""
    organizer = vCalAddress(f"mailto:{make_address('calendar', meeting.id)}")
    organizer.params["cn"] = vText(meeting.community.name)
    return organizer
