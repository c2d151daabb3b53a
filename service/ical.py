"""iCalendar for meeting invitations: REQUEST for new and changed meetings, CANCEL for cancelled ones.

One UID per meeting for its whole life and a SEQUENCE that grows with every
change, so calendar programs update the event instead of adding another.
Times are written in UTC, which every client converts to its own zone, except
a recurring series' (its RRULE repeats the community's local hour, so its
DTSTART names the zone, with the VTIMEZONE beside it). A meeting of a series
invited as a whole is written as that instance of the series: the series' UID
and the RECURRENCE-ID its rule gave it.
The ORGANIZER is a signed address of ours (`calendar+MEETING.SIG@INBOUND_DOMAIN`):
the Accept / Maybe / Decline buttons of Gmail, Outlook and Apple Calendar send
their iTIP REPLY there, and the inbound pipeline records it as an RSVP.
"""
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

from service.addresses import make_address
from service.clock import aware, now
from service.models import Meeting, MeetingSeries, Member

PARTSTAT = {None: "NEEDS-ACTION", "yes": "ACCEPTED", "maybe": "TENTATIVE", "no": "DECLINED"}


def meeting_calendar(meeting: Meeting, member: Member, answer: str | None, method: str,
                     description: str = "") -> str:
    """The VCALENDAR text of this meeting as this member should see it."""
    calendar = _calendar(method)
    event = _event(meeting, description, cancelled=method == "CANCEL")
    if _in_series_event(meeting):
        event["uid"] = vText(meeting.series.uid)
        event.add("recurrence-id", aware(meeting.series_starts_at).astimezone(timezone.utc))
    event.add("attendee", _attendee(member, answer, method))
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _in_series_event(meeting: Meeting) -> bool:
    """Whether the member's calendar holds this meeting as an instance of one recurring event."""
    return meeting.series is not None and meeting.series.invitation == "series" and meeting.series_starts_at is not None


def _attendee(member: Member, answer: str | None, method: str) -> vCalAddress:
    attendee = vCalAddress(f"mailto:{member.email}")
    attendee.params["cn"] = vText(member.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText(PARTSTAT.get(answer, "NEEDS-ACTION"))
    if method == "REQUEST":  # a cancellation asks for no answer
        attendee.params["rsvp"] = vText("TRUE")
    return attendee


RRULE_FREQUENCIES = {"weekly": ("WEEKLY", 1), "biweekly": ("WEEKLY", 2), "monthly": ("MONTHLY", 1)}
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")


def series_calendar(series: MeetingSeries, covered: list[Meeting], member: Member, answer: str | None, method: str,
                    description: str = "") -> str:
    """The series as one recurring event for this member: DTSTART in the community's zone, an RRULE with the
    COUNT of meetings it covers (`covered`, in order), EXDATEs for those cancelled one by one, and each meeting
    changed on its own as an instance (RECURRENCE-ID) after it."""
    calendar = _calendar(method)
    first = covered[0]
    zone = ZoneInfo(series.time_zone)
    event = _event(first, description, cancelled=method == "CANCEL")
    event["uid"] = vText(series.uid)
    event["sequence"] = series.sequence
    starts = aware(first.series_starts_at).astimezone(zone)
    event["dtstart"] = _property(starts)
    event["dtend"] = _property(starts + timedelta(minutes=first.duration_minutes))
    frequency, interval = RRULE_FREQUENCIES[series.frequency]
    rule = {"freq": frequency, "interval": interval, "count": len(covered)}
    if series.frequency == "monthly":
        rule["byday"] = f"{series.weekday_ordinal}{WEEKDAYS[starts.weekday()]}"
    event.add("rrule", rule)
    if method == "REQUEST":
        event["status"] = vText("CONFIRMED")
        for skipped in (m for m in covered if m.status == "cancelled"):
            event.add("exdate", aware(skipped.series_starts_at).astimezone(zone))
    event.add("attendee", _attendee(member, answer, method))
    calendar.add_component(event)
    if method == "REQUEST":
        for changed in (m for m in covered if m.status == "scheduled" and m.sequence > 0):
            instance = _event(changed, changed.agenda_plain, cancelled=False)
            instance["uid"] = vText(series.uid)
            instance.add("recurrence-id", aware(changed.series_starts_at).astimezone(timezone.utc))
            instance.add("attendee", _attendee(member, answer, method))
            calendar.add_component(instance)
    # The zone's rules from the series' first year to a few years past its last meeting, not since 1970.
    calendar.add_missing_timezones(first_date=starts.date().replace(month=1, day=1),
                                   last_date=aware(covered[-1].series_starts_at).date().replace(month=1, day=1)
                                   + timedelta(days=3 * 366))
    return calendar.to_ical().decode()


def _property(moment):
    """A date-time property value in its own zone (TZID), as icalendar writes it."""
    from icalendar import vDDDTypes
    return vDDDTypes(moment)


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
