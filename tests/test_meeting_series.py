"""Recurring meetings: weekly, every two weeks and monthly on a weekday keep their local hour across a clock
change; an invitation per meeting or one for the series, whose calendar part is an RRULE a calendar reads back;
an answer to a series counts for the rest of it; one meeting changed or cancelled, or it and the following."""
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlalchemy import func, select

from service import meeting_series, meetings, members
from service.clock import aware
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, Community, Meeting, MeetingSeries, Member, OutboundEmail, Reminder
from tests.conftest import csrf_from, post_form, run_worker

CHICAGO = ZoneInfo("America/Chicago")


def next_clock_change(after: date) -> date:
    """The first day after `after` on which Chicago's clocks change (its UTC offset at noon differs)."""
    day = after
    while True:
        following = day + timedelta(days=1)
        if datetime.combine(day, time(12), CHICAGO).utcoffset() != datetime.combine(following, time(12),
                                                                                     CHICAGO).utcoffset():
            return following
        day = following


def a_weekday_before_the_change(weeks: int, weekday: int = 1) -> date:
    """A `weekday` (Tuesday by default) `weeks` weeks or so before the next clock change at least a week away."""
    change = next_clock_change(datetime.now(CHICAGO).date() + timedelta(days=7 * weeks + 7))
    day = change - timedelta(days=7 * weeks)
    return day - timedelta(days=(day.weekday() - weekday) % 7)


@pytest.fixture
def riverside(app, personas):
    """Riverside with Ana (Spanish) and Sam; returns the community id."""
    with app.app_context():
        community = db.session.get(Community, personas["riverside"])
        members.add_member(None, community, name="Sam Lee", email="sam@example.org")
        db.session.commit()
    return personas["riverside"]


def _series(app, community_id: int, first: date, frequency: str, invitation: str = "series", hour: int = 18,
            **end) -> int:
    with app.app_context():
        community = db.session.get(Community, community_id)
        series = meeting_series.create_series(None, community, starts_at=meetings.to_utc(community, first, time(hour)),
                                              frequency=frequency, invitation=invitation, title="Peer circle",
                                              agenda="Share one thing that worked.", **(end or {"count": 4}))
        db.session.commit()
        return series.id


def _starts(app, series_id: int) -> list[datetime]:
    with app.app_context():
        return [aware(m.starts_at) for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))]


@pytest.mark.parametrize("frequency, step", [("weekly", 7), ("biweekly", 14)])
def test_weekly_and_biweekly_meetings_keep_their_local_hour_across_a_clock_change(app, riverside, frequency, step):
    first = a_weekday_before_the_change(weeks=2 if frequency == "weekly" else 3)
    series_id = _series(app, riverside, first, frequency, count=4)
    starts = _starts(app, series_id)
    local = [start.astimezone(CHICAGO) for start in starts]
    assert [moment.date() for moment in local] == [first + timedelta(days=step * n) for n in range(4)]
    assert {moment.time() for moment in local} == {time(18)}  # 6 PM in Chicago each time
    assert len({start.utcoffset() for start in starts}) == 1 and len({m.utcoffset() for m in local}) == 2
    assert len({start.time() for start in starts}) == 2  # so the hour in UTC moved by one


def test_monthly_on_the_second_tuesday_keeps_the_weekday_and_local_hour(app, riverside):
    change = next_clock_change(datetime.now(CHICAGO).date() + timedelta(days=45))
    month = (change.replace(day=1) - timedelta(days=1)).replace(day=1)  # the month before the change
    second_tuesday = month + timedelta(days=(1 - month.weekday()) % 7 + 7)
    series_id = _series(app, riverside, second_tuesday, "monthly", count=3)
    local = [start.astimezone(CHICAGO) for start in _starts(app, series_id)]
    assert all(m.weekday() == 1 and 8 <= m.day <= 14 and m.time() == time(18) for m in local)
    assert [m.month for m in local] == [(month.month - 1 + n) % 12 + 1 for n in range(3)]
    assert len({m.utcoffset() for m in local}) == 2
    with app.app_context():
        assert db.session.get(MeetingSeries, series_id).weekday_ordinal == 2


def test_a_fifth_weekday_repeats_as_the_months_last(app):
    assert meeting_series.weekday_ordinal(date(2027, 3, 30)) == -1  # the fifth Tuesday of March 2027
    starts = meeting_series.local_starts("monthly", datetime(2027, 3, 30, 18), count=3)
    assert [s.date() for s in starts] == [date(2027, 3, 30), date(2027, 4, 27), date(2027, 5, 25)]


def _calendar_part(received) -> Calendar:
    part = next(p for p in received.message.walk() if p.get_content_type() == "text/calendar")
    return Calendar.from_ical(part.get_payload(decode=True))


def test_the_series_invitation_is_one_rrule_a_calendar_reads_back_into_the_same_meetings(app, riverside, smtp):
    first = a_weekday_before_the_change(weeks=3)
    series_id = _series(app, riverside, first, "biweekly", count=3)
    with app.app_context():
        kinds = dict(db.session.execute(select(OutboundEmail.kind, func.count()).group_by(OutboundEmail.kind)).all())
        assert kinds == {"series_invitation": 2}  # one per invitee, none per meeting
    run_worker(app)
    [sam] = smtp.to("sam@example.org")
    assert sam.message["Subject"] == "Invitation to a series: Peer circle"
    plain = sam.message.get_body(("plain",)).get_content()
    assert "It repeats: Every two weeks on Tuesday." in plain
    calendar = _calendar_part(sam)
    assert calendar["METHOD"] == "REQUEST"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["America/Chicago"]
    [event] = calendar.walk("VEVENT")
    with app.app_context():
        series = db.session.get(MeetingSeries, series_id)
        assert str(event["UID"]) == series.uid
    start = event.decoded("DTSTART")
    assert start.tzinfo is not None and start.replace(tzinfo=None) == datetime.combine(first, time(18))
    rule = event["RRULE"]
    assert (rule["FREQ"], rule["INTERVAL"], rule["COUNT"]) == (["WEEKLY"], [2], [3])
    expanded = list(rrulestr(rule.to_ical().decode(), dtstart=start))
    assert [moment.astimezone(timezone.utc) for moment in expanded] == _starts(app, series_id)
    assert "PARTSTAT=NEEDS-ACTION" in event.to_ical().decode().replace("\r\n ", "")


def test_an_invitation_per_meeting_when_chosen(app, riverside, smtp):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=2), "weekly", invitation="each", count=3)
    with app.app_context():
        rows = db.session.execute(select(OutboundEmail.kind, OutboundEmail.context)).all()
        assert {kind for kind, _context in rows} == {"meeting_invitation"}
        ids = {m.id for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))}
        assert sorted(context["meeting_id"] for _kind, context in rows) == sorted(list(ids) * 2)  # both invitees
        assert db.session.scalar(select(func.count()).select_from(Reminder).join(Meeting).where(
            Meeting.series_id == series_id)) == 3 * 2  # each meeting its own two reminders


def _member(name: str) -> Member:
    return db.session.scalar(select(Member).where(Member.email == f"{name}@example.org"))


def test_an_answer_to_a_series_counts_for_that_meeting_and_every_later_one(app, riverside):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=2), "weekly", count=4)
    each_id = _series(app, riverside, a_weekday_before_the_change(weeks=2), "weekly", invitation="each", hour=9,
                      count=4)
    with app.app_context():
        sam = _member("sam")
        second = meeting_series.occurrences(db.session.get(MeetingSeries, series_id))[1]
        meetings.record_rsvp(second, sam, "no", note="Travelling")
        meetings.record_rsvp(meeting_series.occurrences(db.session.get(MeetingSeries, each_id))[1], sam, "yes")
        db.session.commit()

        def answers(of_series):
            return [meetings.invitation_for(m, sam).answer
                    for m in meeting_series.occurrences(db.session.get(MeetingSeries, of_series))]
        assert answers(series_id) == [None, "no", "no", "no"]
        assert answers(each_id) == [None, "yes", None, None]


def test_cancelling_one_meeting_leaves_the_others_and_tells_calendars_which_one(app, riverside, smtp):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=2), "weekly", count=4)
    with app.app_context():
        every = meeting_series.occurrences(db.session.get(MeetingSeries, series_id))
        meetings.cancel_meeting(None, every[1])
        db.session.commit()
        assert [m.status for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))] == \
            ["scheduled", "cancelled", "scheduled", "scheduled"]
        reminders = db.session.execute(select(Reminder.meeting_id, Reminder.status)).all()
        assert {status for meeting_id, status in reminders if meeting_id == every[1].id} == {"cancelled"}
        assert {status for meeting_id, status in reminders if meeting_id != every[1].id} == {"scheduled"}
        uid, cancelled_start = db.session.get(MeetingSeries, series_id).uid, aware(every[1].series_starts_at)
    run_worker(app)
    [cancellation] = [m for m in smtp.to("sam@example.org") if m.message["Subject"].startswith("Cancelled")]
    [event] = _calendar_part(cancellation).walk("VEVENT")
    assert str(event["UID"]) == uid and event.decoded("RECURRENCE-ID") == cancelled_start
    assert str(event["STATUS"]) == "CANCELLED"


def test_cancelling_this_and_the_following_cuts_the_series_short_with_one_email(app, riverside, smtp):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=3), "weekly", count=5)
    with app.app_context():
        third = meeting_series.occurrences(db.session.get(MeetingSeries, series_id))[2]
        assert meeting_series.cancel_following(None, third) == 3
        db.session.commit()
        assert [m.status for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))] == \
            ["scheduled", "scheduled", "cancelled", "cancelled", "cancelled"]
        kinds = sorted(db.session.scalars(select(OutboundEmail.kind).where(
            OutboundEmail.recipient == "sam@example.org")))
        assert kinds == ["series_invitation", "series_update"]
    run_worker(app)
    [update] = [m for m in smtp.to("sam@example.org") if m.message["Subject"] == "Series changed: Peer circle"]
    [event] = _calendar_part(update).walk("VEVENT")
    assert event["RRULE"]["COUNT"] == [2] and event["SEQUENCE"] == 1


def test_changing_this_and_the_following_moves_them_and_leaves_the_earlier_ones(app, riverside, alice_client):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=3), "weekly", invitation="each", count=4)
    with app.app_context():
        every = meeting_series.occurrences(db.session.get(MeetingSeries, series_id))
        second_id, second_day = every[1].id, meetings.local_time(every[1]).date()
    url = f"/communities/{riverside}/meetings/{second_id}/edit"
    page = alice_client.get(url).get_data(as_text=True)
    assert "This meeting and the following ones of the series" in page
    response = alice_client.post(url, data={
        "csrf_token": csrf_from(page), "title": "Peer circle (new room)", "agenda": "", "start_date":
        second_day.isoformat(), "start_time": "19:30", "duration_minutes": "60", "location": "Room 2",
        "video_url": "", "facilitator_id": "", "scope": "following"}, follow_redirects=True)
    assert "Changes saved for 3 meetings of the series" in response.get_data(as_text=True)
    local = [s.astimezone(CHICAGO) for s in _starts(app, series_id)]
    assert [m.time() for m in local] == [time(18), time(19, 30), time(19, 30), time(19, 30)]
    with app.app_context():
        titles = [m.title for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))]
        assert titles == ["Peer circle"] + ["Peer circle (new room)"] * 3
        updates = db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
            OutboundEmail.kind == "meeting_update"))
        assert updates == 3 * 2  # each changed meeting to its two invitees, as each had its own invitation


def test_changing_the_rest_of_a_series_invitation_splits_it_into_a_new_series(app, riverside):
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=3), "weekly", count=4)
    with app.app_context():
        every = meeting_series.occurrences(db.session.get(MeetingSeries, series_id))
        third = every[2]
        day = meetings.local_time(third).date()
        changed = meeting_series.update_following(None, third, starts_at=meetings.to_utc(third.community, day,
                                                                                          time(17)),
                                                  title="Peer circle", agenda="", duration_minutes=90)
        db.session.commit()
        assert changed == 2
        old = db.session.get(MeetingSeries, series_id)
        assert old.occurrences == 2 and len(meeting_series.occurrences(old)) == 2
        new = db.session.get(MeetingSeries, third.series_id)
        assert new.id != old.id and [m.id for m in meeting_series.occurrences(new)] == [every[2].id, every[3].id]
        sent = sorted(db.session.execute(select(OutboundEmail.kind, OutboundEmail.context)).all(),
                      key=lambda row: row[0])
        by_kind = {}
        for kind, context in sent:
            by_kind.setdefault(kind, set()).add(context["series_id"])
        assert by_kind == {"series_invitation": {old.id, new.id}, "series_update": {old.id}}


def test_a_series_page_lists_every_meeting_and_the_form_makes_one(app, riverside, alice_client):
    first = a_weekday_before_the_change(weeks=2)
    response = post_form(alice_client, f"/communities/{riverside}/meetings/new", {
        "title": "Monthly peer circle", "agenda": "", "start_date": first.isoformat(), "start_time": "18:00",
        "duration_minutes": "60", "location": "", "video_url": "", "facilitator_id": "", "invite_all": "y",
        "repeat": "weekly", "ends": "until", "until": (first + timedelta(days=21)).isoformat(),
        "invitation": "series"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "4 meetings scheduled. 2 invitations to the whole series are on their way." in page
    assert "Every week on Tuesday" in page and page.count('<li><strong aria-current="page">') == 1
    series_list = page.split('id="series"')[1].split("</section>")[0]
    assert series_list.count("<li>") == 4
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "meeting.series.create"))


@pytest.mark.parametrize("end, message", [
    ({"count": 60}, "A series has between 2 and 52 meetings."),
    ({"until": "past"}, "The series must end after its first meeting."),
    ({"until": "far"}, "That makes more than 52 meetings: choose an earlier end."),
    ({}, "End the series after a number of meetings or on a date."),
])
def test_a_series_that_cannot_be_is_refused_and_nothing_is_made(app, riverside, end, message):
    first = a_weekday_before_the_change(weeks=2)
    if end.get("until") == "past":
        end = {"until": first - timedelta(days=1)}
    elif end.get("until") == "far":
        end = {"until": first + timedelta(days=7 * 60)}
    with app.app_context():
        community = db.session.get(Community, riverside)
        with pytest.raises(DomainError, match=re.escape(message)):
            meeting_series.create_series(None, community, starts_at=meetings.to_utc(community, first, time(18)),
                                         frequency="weekly", invitation="series", title="Peer circle", **end)
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Meeting)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)) == 0


def test_a_calendars_accept_of_the_recurring_event_answers_the_series(app, riverside):
    """Gmail's Accept of the series' event (its UID, to the calendar address the event names) counts for the
    next meeting and every later one, as an answer by link does."""
    from pathlib import Path
    from service import addresses
    from tests.inbound_mail import deliver
    fixture = Path(__file__).parent / "fixtures" / "inbound" / "calendar" / "google_accepted.eml"
    series_id = _series(app, riverside, a_weekday_before_the_change(weeks=2), "weekly", count=3)
    with app.app_context():
        series = db.session.get(MeetingSeries, series_id)
        series.uid = "5b1e8c3a-6f1d-4c55-9a0e-2d7f4e1b9c60@cop.localhost"  # the fixture's, as if we had sent it
        lead_id = meeting_series.lead(series).id
        db.session.commit()
    with app.app_context():
        row = deliver(app, fixture.read_bytes(), addresses.make_address("calendar", lead_id))
        assert (row.status, row.outcome) == ("done", "calendar_rsvp")
        ana = _member("ana")
        assert [meetings.invitation_for(m, ana).answer
                for m in meeting_series.occurrences(db.session.get(MeetingSeries, series_id))] == ["yes"] * 3


def test_a_spanish_member_reads_the_series_invitation_in_spanish(app, riverside, smtp):
    _series(app, riverside, a_weekday_before_the_change(weeks=2), "biweekly", count=3)
    run_worker(app)
    [ana] = smtp.to("ana@example.org")
    assert ana.message["Subject"] == "Invitación a una serie: Peer circle"
    plain = ana.message.get_body(("plain",)).get_content()
    assert "Se repite: Cada dos semanas, los martes." in plain and "Su respuesta vale para la próxima" in plain
