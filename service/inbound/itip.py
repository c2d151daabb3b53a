"""iTIP answers (RFC 5546 METHOD:REPLY) read from the calendar parts of a received message.

Gmail, Outlook and Apple Calendar answer an invitation's Accept / Maybe /
Decline buttons with a VCALENDAR whose METHOD is REPLY, one VEVENT naming the
meeting by UID, and the ATTENDEE who answered with a PARTSTAT. Google sends
the same calendar twice (inline and as invite.ics), so identical answers are
counted once. Anything malformed is noted in `incoming.problems`, never raised.
"""
from dataclasses import dataclass

from icalendar import Calendar

from service import normalize

ANSWERS = {"ACCEPTED": "yes", "TENTATIVE": "maybe", "DECLINED": "no"}  # NEEDS-ACTION, DELEGATED: no answer
MAX_ANSWERS = 20  # a real REPLY names one event; more is noise, not more work for us


@dataclass(frozen=True)
class CalendarReply:
    uid: str
    sequence: int
    attendee: str          # the answering address, lower case ("" when the ATTENDEE is not a mailto)
    partstat: str          # as written, upper case ("NEEDS-ACTION" when missing)
    answer: str | None     # yes / maybe / no; None for NEEDS-ACTION, DELEGATED and unknown values
    comment: str           # what the member typed beside the answer, plain one-paragraph text


def calendar_replies(incoming) -> list[CalendarReply]:
    """Every distinct answer in the message's METHOD:REPLY calendars, in the order they appear."""
    replies: list[CalendarReply] = []
    for text in incoming.calendar_parts:
        for reply in _replies_in(text, incoming.problems):
            if reply not in replies:
                replies.append(reply)
    if len(replies) > MAX_ANSWERS:
        incoming.problems.append(f"calendar: {len(replies)} answers in one message, only the first {MAX_ANSWERS} read")
    return replies[:MAX_ANSWERS]


def _replies_in(text: str, problems: list[str]) -> list[CalendarReply]:
    try:
        calendars = Calendar.from_ical(text, multiple=True)
    except Exception as error:  # icalendar raises ValueError and, on odd input, others; none may escape
        problems.append(f"calendar: unreadable iCalendar ({_described(error)})")
        return []
    if not calendars:  # icalendar quietly returns nothing for a calendar cut short
        problems.append("calendar: a calendar part holds no complete VCALENDAR")
        return []
    replies = []
    for calendar in calendars:
        method = str(calendar.get("METHOD", "")).strip().upper()
        if method != "REPLY":
            problems.append(f"calendar: METHOD:{method[:20] or 'none'} is not an answer (only REPLY is read)")
            continue
        for event in calendar.walk("VEVENT"):
            try:
                replies.extend(_event_replies(event))
            except Exception as error:
                problems.append(f"calendar: unreadable VEVENT ({_described(error)})")
    return replies


def _event_replies(event) -> list[CalendarReply]:
    uid = normalize.text(event.get("UID", ""))[:255]  # control characters out: PostgreSQL refuses NUL
    sequence = _sequence(event.get("SEQUENCE"))
    attendees = event.get("ATTENDEE", [])
    attendees = attendees if isinstance(attendees, list) else [attendees]
    event_comment = _comment(event.get("COMMENT"))
    replies = []
    for attendee in attendees:
        partstat = normalize.text(attendee.params.get("PARTSTAT", "NEEDS-ACTION")).upper()[:40]
        # Google puts a typed note on the attendee itself as well as (sometimes) in COMMENT.
        comment = event_comment or _comment(attendee.params.get("X-RESPONSE-COMMENT"))
        replies.append(CalendarReply(uid=uid, sequence=sequence, attendee=_mailto(str(attendee)),
                                     partstat=partstat, answer=ANSWERS.get(partstat), comment=comment))
    return replies


def _mailto(value: str) -> str:
    value = normalize.text(value)
    if value[:7].lower() != "mailto:":
        return ""
    return value[7:].strip().lower()[:254]


def _sequence(value) -> int:
    try:
        return max(int(str(value if value is not None else 0).strip()), 0)
    except ValueError:
        return 0


def _comment(value) -> str:
    """COMMENT may repeat; the pieces joined as one plain paragraph, control characters out."""
    if value is None:
        return ""
    pieces = value if isinstance(value, list) else [value]
    return normalize.text(" ".join(str(piece) for piece in pieces))[:500]


def _described(error: Exception) -> str:
    """The error for a coordinator's eyes: short, and without the control characters the input may hold."""
    return f"{type(error).__name__}: {normalize.text(str(error))[:120]}"
