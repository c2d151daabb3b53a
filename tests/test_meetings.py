"""Meetings: invitations with iCalendar, RSVP by signed link, reminders that follow changes."""
from datetime import date, datetime, time, timedelta, timezone

import icalendar
import pytest
from sqlalchemy import select

from service import meetings, members
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Invitation, Member, OutboundEmail, Reminder
from service.tokens import make_token
from tests.conftest import csrf_from, run_worker
from tests.worker_process import WorkerProcess, wait_until


def _riverside() -> Community:
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _meeting(starts_in=timedelta(days=3), **details):
    values = {"title": "Monthly call", "agenda": "1. Wins, setbacks; and \\ questions\n2. Next steps",
              "location": "Room 4, Main St. Library", "duration_minutes": 90, **details}
    meeting = meetings.create_meeting(None, _riverside(), starts_at=datetime.now(timezone.utc) + starts_in,
                                      **values)
    db.session.commit()
    return meeting


def _calendar(received) -> icalendar.Calendar:
    message = received.message
    parts = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, "one calendar part, so no client imports the event twice"
    [inline] = parts
    assert inline.get_param("method") in ("REQUEST", "CANCEL") and inline.get_content_disposition() is None
    [alternative] = message.get_payload()  # multipart/mixed > multipart/alternative, the shape Google sends
    assert alternative.get_content_type() == "multipart/alternative" and inline in alternative.get_payload()
    return icalendar.Calendar.from_ical(inline.get_content())


def _event(calendar):
    return next(c for c in calendar.walk() if c.name == "VEVENT")


def test_invitation_is_a_calendar_request_with_escaped_text(app, ctx, personas, smtp):
    meeting = _meeting(title="Budget, plans; and \\ more")
    run_worker(app)
    [received] = smtp.to("ana@example.org")
    calendar = _calendar(received)
    assert str(calendar["METHOD"]) == "REQUEST"
    event = _event(calendar)
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0
    assert str(event["SUMMARY"]) == "Budget, plans; and \\ more"           # round-trips exactly
    raw = next(p for p in received.message.walk() if p.get_content_type() == "text/calendar").get_content()
    assert "Budget\\, plans\\; and \\\\ more" in raw                          # RFC 5545 TEXT escaping
    assert "\\n" in raw.split("DESCRIPTION:", 1)[1].split("\r\n")[0]        # newlines escaped too
    assert event["DTSTART"].dt == meetings.aware(meeting.starts_at).replace(microsecond=0)
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ana@example.org" and attendee.params["RSVP"] == "TRUE"
    assert str(event["ORGANIZER"]).startswith("mailto:")


@pytest.mark.parametrize("zone, day, at, expected_utc", [
    # The day after the US spring change: Chicago is UTC-5, not UTC-6.
    ("America/Chicago", date(2027, 3, 15), time(18, 0), datetime(2027, 3, 15, 23, 0, tzinfo=timezone.utc)),
    ("America/Chicago", date(2027, 3, 13), time(18, 0), datetime(2027, 3, 14, 0, 0, tzinfo=timezone.utc)),
    # Mexico City has no daylight saving any more: the same local hour is the same UTC hour all year.
    ("America/Mexico_City", date(2027, 3, 15), time(18, 0), datetime(2027, 3, 16, 0, 0, tzinfo=timezone.utc)),
    ("Europe/Madrid", date(2027, 3, 29), time(10, 0), datetime(2027, 3, 29, 8, 0, tzinfo=timezone.utc)),
    ("Europe/Madrid", date(2027, 3, 27), time(10, 0), datetime(2027, 3, 27, 9, 0, tzinfo=timezone.utc)),
])
def test_local_times_become_the_right_instant_across_dst(app, ctx, personas, smtp, zone, day, at, expected_utc):
    community = _riverside()
    community.time_zone = zone
    assert meetings.to_utc(community, day, at) == expected_utc
    meeting = meetings.create_meeting(None, community, starts_at=expected_utc, title="DST check")
    db.session.commit()
    run_worker(app)
    assert _event(_calendar(smtp.to("ana@example.org")[0]))["DTSTART"].dt == expected_utc
    assert meeting.uid


def test_a_local_time_skipped_by_the_clock_change_is_refused(app, ctx, personas):
    with pytest.raises(DomainError, match="does not exist"):
        meetings.to_utc(_riverside(), date(2027, 3, 14), time(2, 30))


def test_updates_keep_the_uid_and_raise_the_sequence_cancel_says_cancel(app, ctx, personas, smtp):
    meeting = _meeting()
    run_worker(app)
    meetings.update_meeting(None, meeting, starts_at=meeting.starts_at + timedelta(hours=2), title="Monthly call",
                            agenda=meeting.agenda, location="Room 5", duration_minutes=90)
    db.session.commit()
    run_worker(app)
    meetings.cancel_meeting(None, meeting)
    db.session.commit()
    run_worker(app)
    invite, update, cancel = (_calendar(r) for r in smtp.to("ana@example.org"))
    assert [str(c["METHOD"]) for c in (invite, update, cancel)] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(_event(c)["UID"]) for c in (invite, update, cancel)} == {meeting.uid}
    assert [int(_event(c)["SEQUENCE"]) for c in (invite, update, cancel)] == [0, 1, 2]
    assert str(_event(update)["LOCATION"]) == "Room 5"
    assert str(_event(cancel)["STATUS"]) == "CANCELLED"
    # A cancellation asks for no answer: its ATTENDEE has no RSVP=TRUE (RFC 5546 3.2.5).
    assert _event(update)["ATTENDEE"].params["RSVP"] == "TRUE" and "RSVP" not in _event(cancel)["ATTENDEE"].params
    from service.models import AuditEvent
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "meeting")))
    assert {"meeting.create", "meeting.update", "meeting.cancel"} <= actions


def _rsvp_url(meeting, member, answer=None):
    url = f"/m/meetings/{meeting.id}/rsvp/{make_token('rsvp', member.id, meeting.id)}"
    return url + (f"?answer={answer}" if answer else "")


def test_rsvp_link_shows_the_meeting_and_changes_only_on_post(app, ctx, personas, client):
    meeting = _meeting()
    ana = _member()
    for method in (client.get, client.head):
        assert method(_rsvp_url(meeting, ana, "yes")).status_code == 200
    db.session.expire_all()
    assert meetings.invitation_for(meeting, ana).answer is None
    page = client.get(_rsvp_url(meeting, ana, "yes")).get_data(as_text=True)
    assert "Monthly call" in page and 'lang="es"' in page
    response = client.post(_rsvp_url(meeting, ana), data={"csrf_token": csrf_from(page), "answer": "yes",
                                                          "note": "Llego tarde"})
    assert response.status_code == 200
    db.session.expire_all()
    invitation = meetings.invitation_for(meeting, ana)
    assert (invitation.answer, invitation.note) == ("yes", "Llego tarde")
    # Changing one's mind is allowed until the start.
    client.post(_rsvp_url(meeting, ana), data={"csrf_token": csrf_from(page), "answer": "no"})
    db.session.expire_all()
    assert meetings.invitation_for(meeting, ana).answer == "no"


def test_a_token_for_one_meeting_cannot_answer_another(app, ctx, personas, client):
    first, second = _meeting(), _meeting(starts_in=timedelta(days=10))
    ana = _member()
    token = make_token("rsvp", ana.id, first.id)
    page = client.get(_rsvp_url(first, ana)).get_data(as_text=True)
    response = client.post(f"/m/meetings/{second.id}/rsvp/{token}", data={"csrf_token": csrf_from(page),
                                                                          "answer": "yes"})
    assert response.status_code == 400
    db.session.expire_all()
    assert meetings.invitation_for(second, ana).answer is None


def test_answers_close_at_the_start(app, ctx, personas):
    meeting = _meeting()
    meeting.starts_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    with pytest.raises(DomainError, match="already started"):
        meetings.record_rsvp(meeting, _member(), "yes")


def _reminder_emails():
    return list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "meeting_reminder")))


@pytest.fixture
def worker(app, smtp, tmp_path):
    process = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log").start().wait_ready()
    yield process
    process.stop()


def test_reminders_fire_on_time_through_the_scheduler_and_skip_no(app, ctx, personas, smtp, worker):
    community = _riverside()
    community.reminder_offsets = [1]
    members.add_member(None, community, name="Sam Lee", email="sam@example.org")
    db.session.commit()
    meeting = _meeting(starts_in=timedelta(seconds=63))  # the reminder is due in about 3 s
    meetings.record_rsvp(meeting, _member("sam@example.org"), "no")
    db.session.commit()
    due = meetings.aware(meeting.starts_at) - timedelta(minutes=1)
    wait_until(lambda: smtp.to("ana@example.org") and len(smtp.to("ana@example.org")) >= 2, 30,
               "the reminder to arrive", on_timeout=worker.log)
    arrived = datetime.now(timezone.utc)
    reminder = smtp.to("ana@example.org")[-1].message
    assert reminder["Subject"].startswith(("Reminder", "Recordatorio"))
    assert arrived >= due - timedelta(seconds=1.5)                 # RQ may start up to 1 s early
    assert "/m/meetings/" in reminder.get_body(("plain",)).get_content()
    assert [m for m in smtp.to("sam@example.org") if "Reminder" in (m.message["Subject"] or "")] == []
    db.session.expire_all()
    assert db.session.scalar(select(Reminder.status)) == "sent"


def test_after_a_reschedule_only_the_new_reminder_fires(app, ctx, personas, smtp, worker):
    community = _riverside()
    community.reminder_offsets = [1]
    db.session.commit()
    meeting = _meeting(starts_in=timedelta(seconds=64))
    meetings.update_meeting(None, meeting, starts_at=meeting.starts_at + timedelta(seconds=4), title=meeting.title,
                            agenda=meeting.agenda, location=meeting.location, duration_minutes=90)
    db.session.commit()
    wait_until(lambda: _reminder_emails(), 30, "the rescheduled reminder", on_timeout=worker.log)
    wait_until(lambda: all(e.status == "sent" for e in _reminder_emails()) or db.session.expire_all(), 15,
               "delivery")
    db.session.expire_all()
    reminders = _reminder_emails()
    assert len(reminders) == 1                                     # the old job found a stale due time
    sent_at = reminders[0].created_at if reminders[0].created_at.tzinfo else \
        reminders[0].created_at.replace(tzinfo=timezone.utc)
    assert sent_at >= meetings.aware(meeting.starts_at) - timedelta(minutes=1, seconds=1.5)


def test_after_a_cancel_no_reminder_fires(app, ctx, personas, smtp, worker):
    community = _riverside()
    community.reminder_offsets = [1]
    db.session.commit()
    meeting = _meeting(starts_in=timedelta(seconds=62))
    meetings.cancel_meeting(None, meeting)
    db.session.commit()
    wait_until(lambda: len(smtp.to("ana@example.org")) >= 2, 20, "invitation and cancellation")
    import time as clock
    clock.sleep(4)  # past the old due time: give a stray job every chance to fire
    db.session.expire_all()
    assert _reminder_emails() == []
    assert db.session.scalar(select(Reminder.status)) == "cancelled"


def test_sweeper_sends_a_reminder_redis_lost(app, ctx, personas, smtp):
    community = _riverside()
    community.reminder_offsets = [60]
    db.session.commit()
    meeting = _meeting(starts_in=timedelta(minutes=30, seconds=5))  # due time already passed: skipped
    reminder = db.session.scalar(select(Reminder))
    assert reminder.status == "skipped"
    meeting2 = _meeting(starts_in=timedelta(hours=2))
    from service.queue import redis_connection
    redis_connection().flushdb()                       # Redis loses the scheduled job
    r2 = db.session.scalar(select(Reminder).where(Reminder.meeting_id == meeting2.id))
    r2.due_at = datetime.now(timezone.utc) - timedelta(minutes=5)
    db.session.commit()
    counts = meetings.sweep(grace=timedelta(0))
    assert counts["reminders_sent"] == 1
    run_worker(app)
    assert any("Reminder" in (m.message["Subject"] or "") or "Recordatorio" in (m.message["Subject"] or "")
               for m in smtp.to("ana@example.org"))
    assert meeting.id


def test_attendance_then_feedback_request_to_attendees_only(app, ctx, personas, smtp):
    community = _riverside()
    members.add_member(None, community, name="Sam Lee", email="sam@example.org")
    db.session.commit()
    meeting = _meeting()
    meeting.starts_at = datetime.now(timezone.utc) - timedelta(hours=3)
    community.feedback_delay_hours = 0
    meetings.mark_attendance(None, meeting, {_member().id})
    db.session.commit()
    assert meetings.send_feedback_requests(meeting.id) == 1
    assert meetings.send_feedback_requests(meeting.id) == 0        # once per meeting
    run_worker(app)
    feedback = [m for m in smtp.to("ana@example.org") if "feedback" in m.message.get_body(("plain",)).get_content()]
    assert feedback and smtp.to("sam@example.org")[-1].message["Subject"].startswith("Invitation")
    link = [w for w in feedback[0].message.get_body(("plain",)).get_content().split() if "/feedback/" in w][0]
    page = app.test_client().get("/" + link.split("/", 3)[3])
    assert page.status_code == 200 and 'lang="es"' in page.get_data(as_text=True)
    assert db.session.scalar(select(Invitation.attended).where(Invitation.member_id == _member().id)) is True
