"""Recurring meetings: weekly, every two weeks, or monthly on a weekday ("the second Tuesday"), until a count or
a date.

Every occurrence is a meeting of its own (`Meeting.series_id`), created ahead,
with its own invitees, answers, reminders and attendance. The recurrence is
python-dateutil's rrule, run on the community's local wall clock and only then
turned into UTC, so the meetings keep their local hour across a daylight-saving
change.

The coordinator chooses how members are invited:

- `each`: an invitation per occurrence (each its own calendar event);
- `series`: one invitation whose calendar part is a single recurring event
  (an RRULE in the community's time zone). An answer to any occurrence then
  applies to it and every later one (`meetings.record_rsvp`). A change to one
  occurrence goes out as that instance of the series (its RECURRENCE-ID).

Changing or cancelling "this and the following" meetings of a series-invited
series splits it: the old series is cut short (its RRULE's COUNT, one update),
and the rest, changed, becomes a new series with its own invitation, as
calendar programs do it. From its first meeting on, the whole series is
updated (or cancelled) with one email.
"""
import uuid
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

from babel.dates import format_date
from dateutil.rrule import MONTHLY, WEEKLY, rrule, weekday
from flask import current_app
from flask_babel import force_locale, get_locale, gettext as _
from sqlalchemy import select

from service import audit, mailer, meeting_emails, meetings, normalize
from service.clock import aware, now
from service.errors import DomainError
from service.markdown_text import stored_html
from service.extensions import db
from service.models import Community, Coordinator, Invitation, Meeting, MeetingSeries, Member
from service.models.meetings import SERIES_FREQUENCIES, SERIES_INVITATIONS

MAX_OCCURRENCES = 52
RULES = {"weekly": (WEEKLY, 1), "biweekly": (WEEKLY, 2), "monthly": (MONTHLY, 1)}


# --- the rule -------------------------------------------------------------------------------------

def weekday_ordinal(day: date) -> int:
    """Which of its month's weekdays `day` is: 1 to 4, or -1 for a fifth one (the month's last)."""
    ordinal = (day.day - 1) // 7 + 1
    return -1 if ordinal == 5 else ordinal


def _rule(frequency: str, first_local: datetime, ordinal: int | None, count: int | None = None,
          until: date | None = None) -> rrule:
    """The dateutil rule over naive local wall-clock times."""
    freq, interval = RULES[frequency]
    by_weekday = weekday(first_local.weekday())(ordinal) if frequency == "monthly" else None
    return rrule(freq, interval=interval, dtstart=first_local, byweekday=by_weekday, count=count,
                 until=datetime.combine(until, time.max) if until else None)


def local_starts(frequency: str, first_local: datetime, *, count: int | None = None, until: date | None = None,
                 limit: int = MAX_OCCURRENCES + 1) -> list[datetime]:
    """The occurrences' naive local starts (at most `limit`), the first one included."""
    ordinal = weekday_ordinal(first_local.date()) if frequency == "monthly" else None
    starts = []
    for start in _rule(frequency, first_local, ordinal, count, until):
        starts.append(start)
        if len(starts) >= limit:
            break
    return starts


def in_utc(local: datetime, zone: str) -> datetime:
    """A naive local wall-clock time in `zone` as UTC (a time a clock change skips moves on by the gap)."""
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def describe(series: MeetingSeries, first_local: datetime) -> str:
    """"Every week on Tuesday", "Every two weeks", "Monthly on the second Tuesday", in the page's language."""
    day = format_date(first_local, "EEEE", locale=str(get_locale()))
    if series.frequency == "weekly":
        return _("Every week on %(day)s", day=day)
    if series.frequency == "biweekly":
        return _("Every two weeks on %(day)s", day=day)
    ordinals = {1: _("first"), 2: _("second"), 3: _("third"), 4: _("fourth"), -1: _("last")}
    return _("Monthly on the %(ordinal)s %(day)s", ordinal=ordinals[series.weekday_ordinal], day=day)


# --- creating -------------------------------------------------------------------------------------

def create_series(actor: Coordinator | None, community: Community, *, starts_at: datetime, frequency: str,
                  invitation: str, count: int | None = None, until: date | None = None,
                  member_ids: list[int] | None = None, **details) -> MeetingSeries:
    """Schedule every occurrence now, as meetings of their own, and invite members the chosen way."""
    if frequency not in SERIES_FREQUENCIES:
        raise DomainError(_("Choose how often it repeats."), "repeat")
    if invitation not in SERIES_INVITATIONS:
        raise DomainError(_("Choose how members are invited."), "invitation")
    first_local = aware(starts_at).astimezone(ZoneInfo(community.time_zone)).replace(tzinfo=None)
    if (count is None) == (until is None):
        raise DomainError(_("End the series after a number of meetings or on a date."), "ends")
    if count is not None and not 2 <= count <= MAX_OCCURRENCES:
        raise DomainError(_("A series has between 2 and %(n)d meetings.", n=MAX_OCCURRENCES), "count")
    if until is not None:
        normalize.within_reach(datetime.combine(until, time(12), tzinfo=timezone.utc), "until")
        if until <= first_local.date():
            raise DomainError(_("The series must end after its first meeting."), "until")
    starts = local_starts(frequency, first_local, count=count, until=until)
    if len(starts) > MAX_OCCURRENCES:
        raise DomainError(_("That makes more than %(n)d meetings: choose an earlier end.", n=MAX_OCCURRENCES), "until")
    if len(starts) < 2:
        raise DomainError(_("That makes a single meeting: choose a later end."), "until")
    series = MeetingSeries(community_id=community.id, frequency=frequency, invitation=invitation,
                           uid=f"series-{uuid.uuid4()}@{current_app.config['INBOUND_DOMAIN']}",
                           weekday_ordinal=weekday_ordinal(first_local.date()) if frequency == "monthly" else None,
                           time_zone=community.time_zone, occurrences=len(starts), until_day=until)
    db.session.add(series)
    db.session.flush()
    occurrences = [meetings.create_meeting(actor, community, starts_at=in_utc(local, community.time_zone),
                                           member_ids=member_ids, series=series,
                                           send_invitations=invitation == "each", **details)
                   for local in starts]
    audit.record(actor, "meeting.series.create", "meeting_series", series.id, community.id,
                 title=occurrences[0].title, frequency=frequency, occurrences=len(starts), invitation=invitation,
                 first=occurrences[0].starts_at.isoformat())
    if invitation == "series":
        _send_series(series, "series_invitation", _invitee_ids(occurrences), f"series-invite:{series.id}")
    return series


def _invitee_ids(occurrences: list[Meeting]) -> list[int]:
    ids = {occurrence.id for occurrence in occurrences}
    return sorted(set(db.session.scalars(select(Invitation.member_id).where(Invitation.meeting_id.in_(ids))))) \
        if ids else []


def _send_series(series: MeetingSeries, kind: str, member_ids: list[int], key_prefix: str) -> int:
    people = db.session.scalars(select(Member).where(Member.id.in_(member_ids)).order_by(Member.id)).all()
    community = db.session.get(Community, series.community_id)
    return mailer.queue_bulk(kind, people, key_for=lambda m: f"{key_prefix}:{series.sequence}:{m.id}",
                             context_for=lambda m: {"series_id": series.id}, community=community)


# --- reading --------------------------------------------------------------------------------------

def occurrences(series: MeetingSeries) -> list[Meeting]:
    """Every meeting of the series, in the rule's order."""
    return list(db.session.scalars(select(Meeting).where(Meeting.series_id == series.id)
                                   .order_by(Meeting.series_starts_at, Meeting.id)))


def lead(series: MeetingSeries) -> Meeting:
    """The series' first meeting: the recurring calendar event starts there and is named after it."""
    return occurrences(series)[0]


def this_and_following(meeting: Meeting) -> list[Meeting]:
    """The meeting and the later ones of its series that can still change."""
    return [occurrence for occurrence in occurrences(meeting.series)
            if aware(occurrence.series_starts_at) >= aware(meeting.series_starts_at) and meetings.is_open(occurrence)]


# --- changing and cancelling the rest -------------------------------------------------------------

def update_following(actor: Coordinator | None, meeting: Meeting, *, starts_at: datetime, **details) -> int:
    """Change this meeting and every later one of its series the same way: the details, and the time of day
    (and the weekday, moved by as many days as this one). Returns how many meetings changed.

    With an invitation per meeting, each changed one is updated as usual. A
    series invited as a whole is told once: from its first meeting, by an
    update of the recurring event; from a later one, by cutting it short there
    and inviting to the rest as a new series."""
    meetings._check_changeable(meeting)
    zone = ZoneInfo(meeting.community.time_zone)
    old_local, new_local = meetings.local_time(meeting), aware(starts_at).astimezone(zone)
    shift = new_local.date() - old_local.date()
    series, rest = meeting.series, this_and_following(meeting)
    by_series = series.invitation == "series"
    changed = 0
    for occurrence in rest:
        day = meetings.local_time(occurrence).date() + shift
        moved = meetings.to_utc(meeting.community, day, new_local.time())
        if meetings.update_meeting(actor, occurrence, starts_at=moved, notify=not by_series, **details):
            changed += 1
    target = series
    if by_series and changed:
        target = _split(actor, meeting, rest) if _earlier_kept(meeting) else series
        for occurrence in rest:  # the (new) rule now gives these starts; they are no longer changed instances
            occurrence.series_starts_at, occurrence.sequence = occurrence.starts_at, 0
        if target.frequency == "monthly":  # a day's shift may make it another weekday of the month
            target.weekday_ordinal = weekday_ordinal(meetings.local_time(rest[0]).date())
        if target is series:
            series.sequence += 1
            _send_series(series, "series_update", _invitee_ids(rest), f"series-update:{series.id}")
        else:
            _send_series(target, "series_invitation", _invitee_ids(rest), f"series-invite:{target.id}")
    audit.record(actor, "meeting.series.update", "meeting_series", series.id, meeting.community_id,
                 from_meeting=meeting.id, meetings=changed, split_into=target.id if target is not series else None)
    return changed


def cancel_following(actor: Coordinator | None, meeting: Meeting) -> int:
    """Cancel this meeting and every later one of its series; returns how many were cancelled."""
    meetings._check_changeable(meeting)
    series, rest = meeting.series, this_and_following(meeting)
    by_series = series.invitation == "series"
    for occurrence in rest:
        meetings.cancel_meeting(actor, occurrence, notify=not by_series)
    if by_series:
        kept = _earlier_kept(meeting)
        series.sequence += 1
        invitees = _invitee_ids(rest)
        if kept:  # the recurring event ends sooner: one update with the shorter rule
            series.occurrences = kept
            _send_series(series, "series_update", invitees, f"series-update:{series.id}")
        else:  # nothing of it is left: one cancellation of the whole recurring event
            _send_series(series, "series_cancelled", invitees, f"series-cancel:{series.id}")
    audit.record(actor, "meeting.series.cancel", "meeting_series", series.id, meeting.community_id,
                 from_meeting=meeting.id, cancelled=len(rest))
    return len(rest)


def _earlier_kept(meeting: Meeting) -> int:
    """How many occurrences of the rule come before this one (they stay in the recurring event)."""
    return sum(1 for occurrence in occurrences(meeting.series)
               if aware(occurrence.series_starts_at) < aware(meeting.series_starts_at))


def _split(actor: Coordinator | None, meeting: Meeting, rest: list[Meeting]) -> MeetingSeries:
    """Cut the series before `meeting` (one update with the shorter rule) and make the rest a new series."""
    old = meeting.series
    kept = _earlier_kept(meeting)
    later = [occurrence for occurrence in occurrences(old) if aware(occurrence.series_starts_at)
             >= aware(meeting.series_starts_at)]
    old.occurrences, old.sequence = kept, old.sequence + 1
    new = MeetingSeries(community_id=old.community_id, frequency=old.frequency, invitation=old.invitation,
                        uid=f"series-{uuid.uuid4()}@{current_app.config['INBOUND_DOMAIN']}",
                        weekday_ordinal=old.weekday_ordinal, time_zone=old.time_zone, occurrences=len(later),
                        until_day=old.until_day)
    db.session.add(new)
    db.session.flush()
    _send_series(old, "series_update", _invitee_ids(rest), f"series-update:{old.id}")
    for occurrence in later:
        occurrence.series_id, occurrence.series = new.id, new
    db.session.flush()
    audit.record(actor, "meeting.series.split", "meeting_series", old.id, old.community_id, new_series=new.id,
                 from_meeting=meeting.id)
    return new


# --- answers and email ----------------------------------------------------------------------------

def answer_following(meeting: Meeting, member: Member, answer: str, note: str) -> int:
    """A member's answer to one meeting of a series-invited series, given to every later open one they are
    invited to ("answers apply to the series"); how many more were answered."""
    later = [o.id for o in this_and_following(meeting) if o.id != meeting.id]
    if not later:
        return 0
    invitations = db.session.scalars(select(Invitation).where(
        Invitation.meeting_id.in_(later), Invitation.member_id == member.id)).all()
    for invitation in invitations:
        invitation.answer, invitation.note, invitation.answered_at = answer, note, now()
    return len(invitations)


def next_open(series: MeetingSeries) -> Meeting | None:
    """The series' next meeting that can still be answered."""
    return next((occurrence for occurrence in occurrences(series) if meetings.is_open(occurrence)), None)


def email_extras(row, member: Member, community: Community) -> dict:
    """What series emails need at send time: the series as it is now, its next meeting's links, the calendar."""
    from service.ical import series_calendar
    series = db.session.get(MeetingSeries, row.context["series_id"])
    every = occurrences(series)
    first, upcoming = every[0], next_open(series) or every[-1]
    invitation = meetings.invitation_for(upcoming, member)
    answer = invitation.answer if invitation else None
    covered = every[:series.occurrences]
    starts = [meeting_emails.when_text(o, member.language) for o in covered if o.status == "scheduled"
              and aware(o.starts_at) > now()]
    method = "CANCEL" if row.kind == "series_cancelled" else "REQUEST"
    description = first.agenda_plain
    if method == "REQUEST":
        description += "\n\n" + meeting_emails.rsvp_links(upcoming, member)["page"]
    return {
        "series": series, "meeting": first, "upcoming": upcoming, "dates": starts,
        "rule": _rule_text(series, first, member.language),
        "when": meeting_emails.when_text(upcoming, member.language), "answer": answer,
        "facilitator_name": None, "time_zone": community.time_zone, "agenda_html": stored_html(first.agenda_html),
        "rsvp": meeting_emails.rsvp_links(upcoming, member),
        "calendar": (series_calendar(series, covered, member, answer, method, description), method),
    }


def _rule_text(series: MeetingSeries, first: Meeting, language: str) -> str:
    with force_locale(language):
        return describe(series, meetings.local_time(first).replace(tzinfo=None))
