"""The coordinator's meetings dashboard: scheduling, changes, cancellation, more invitees, attendance,
live answers, the community's meeting settings, and who may do any of it."""
import re
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import select

from service import meetings, members
from service.errors import DomainError
from service.extensions import db
from service.models import Community, Coordinator, Invitation, Meeting, Member, Reminder
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker

CHICAGO = ZoneInfo("America/Chicago")


# --- helpers --------------------------------------------------------------------------------------

def _future_day(days: int = 30) -> date:
    return (datetime.now(CHICAGO) + timedelta(days=days)).date()


def _add_sam(app, personas) -> int:
    """A second active member of Riverside, so "everyone" and "a subset" differ."""
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        membership = members.add_member(alice, riverside, name="Sam Lee", email="sam@example.org")
        db.session.commit()
        return membership.member_id


def _member_id(app, email: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Member.id).where(Member.email == email))


def _schedule(app, personas, *, days: int = 30, at: time = time(18, 0), member_ids=None, **details) -> int:
    """A meeting of Riverside scheduled through the domain, as alice."""
    with app.app_context():
        alice = db.session.get(Coordinator, personas["alice"])
        riverside = db.session.get(Community, personas["riverside"])
        meeting = meetings.create_meeting(alice, riverside, starts_at=meetings.to_utc(riverside, _future_day(days), at),
                                          member_ids=member_ids, **{"title": "Monthly call", **details})
        db.session.commit()
        return meeting.id


def _meeting(app, meeting_id: int) -> Meeting:
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        db.session.expunge(meeting)
        return meeting


def _invitations(app, meeting_id: int) -> dict[str, Invitation]:
    """email -> invitation"""
    with app.app_context():
        rows = db.session.execute(select(Member.email, Invitation).join(Invitation.member)
                                  .where(Invitation.meeting_id == meeting_id)).all()
        db.session.expunge_all()
        return dict(rows)


def _calendars(smtp, address: str) -> list[tuple[str, Calendar]]:
    """(Content-Type method, parsed VCALENDAR) of each message to this address that carries one."""
    found = []
    for received in smtp.to(address):
        for part in received.message.walk():
            if part.get_content_type() == "text/calendar":
                found.append((part.get_param("method"), Calendar.from_ical(part.get_content())))
                break
    return found


def _event(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def _state(app) -> dict:
    """Every row of every table, to prove a request changed nothing."""
    state = {}
    with app.app_context(), db.engine.connect() as connection:
        for table in db.metadata.sorted_tables:
            order = list(table.primary_key.columns) or list(table.c)
            state[table.name] = [tuple(row) for row in connection.execute(select(table).order_by(*order))]
    return state


def _form(day: date, at: str = "18:00", **overrides) -> dict:
    return {"title": "Monthly call", "agenda": "1. Welcome\n2. **Grant** season", "start_date": day.isoformat(),
            "start_time": at, "duration_minutes": "90", "location": "Casa Verde, 12 Main St",
            "video_url": "https://meet.example.org/riverside", "facilitator_id": "", "invite_all": "y",
            **overrides}


def _base(personas) -> str:
    return f"/communities/{personas['riverside']}/meetings"


# --- scheduling -----------------------------------------------------------------------------------

def test_schedule_through_the_form_invites_everyone_and_ana_gets_an_ics_request(app, alice_client, personas,
                                                                                smtp):
    _add_sam(app, personas)
    ana = _member_id(app, "ana@example.org")
    day = _future_day()
    response = post_form(alice_client, _base(personas) + "/new", _form(day, facilitator_id=str(ana)))
    assert response.status_code == 302
    with app.app_context():
        meeting = db.session.scalar(select(Meeting))
        db.session.expunge(meeting)
    assert response.headers["Location"] == f"{_base(personas)}/{meeting.id}"
    expected_start = datetime.combine(day, time(18, 0), CHICAGO).astimezone(timezone.utc)
    assert meetings.aware(meeting.starts_at) == expected_start
    assert (meeting.duration_minutes, meeting.facilitator_id, meeting.location) == (90, ana, "Casa Verde, 12 Main St")
    assert set(_invitations(app, meeting.id)) == {"ana@example.org", "sam@example.org"}
    page = alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Meeting scheduled. 2 invitations are on their way." in page
    assert "<strong>Grant</strong>" in page and "Central Time (Chicago)" in page and "6:00" in page

    run_worker(app)
    [(method, calendar)] = _calendars(smtp, "ana@example.org")
    event = _event(calendar)
    assert method == "REQUEST" and str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == meeting.uid and int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == expected_start
    assert event.decoded("DTEND") == expected_start + timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "Monthly call"
    assert len(_calendars(smtp, "sam@example.org")) == 1


def test_a_subset_is_invited_when_invite_all_is_unticked(app, alice_client, personas, smtp):
    sam = _add_sam(app, personas)
    form = _form(_future_day())
    del form["invite_all"]
    response = post_form(alice_client, _base(personas) + "/new", {**form, "member_ids": [str(sam)]})
    assert response.status_code == 302
    with app.app_context():
        meeting_id = db.session.scalar(select(Meeting.id))
    assert set(_invitations(app, meeting_id)) == {"sam@example.org"}
    run_worker(app)
    assert _calendars(smtp, "ana@example.org") == []


@pytest.mark.parametrize("change, field, message", [
    ({"start_date": (date.today() - timedelta(days=2)).isoformat()}, "start_date", "must start in the future"),
    ({"start_date": "2027-03-14", "start_time": "02:30"}, "start_time",
     "2:30\u202fAM does not exist on that day in Central Time (Chicago)"),
    ({"title": "   "}, "title", "A meeting needs a title"),  # in English or in Spanish
    ({"duration_minutes": "0"}, "duration_minutes", "between 5 and 1440"),
    ({"video_url": "javascript:alert(1)"}, "video_url", "must start with https://"),
    ({"start_time": "25:00"}, "start_time", "Not a valid time"),
    ({"facilitator_id": "99999"}, "facilitator_id", "Not a valid choice"),
    ({"invite_all": None}, "member_ids", "Choose at least one member"),
])
def test_bad_meeting_input_is_refused_next_to_its_field_and_saves_nothing(app, alice_client, personas, smtp,
                                                                          change, field, message):
    before = _state(app)
    form = {k: v for k, v in {**_form(_future_day()), **change}.items() if v is not None}
    response = post_form(alice_client, _base(personas) + "/new", form)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert error and message in error.group(1), html
    assert 'value="Monthly call"' in html or change.get("title")  # what was typed is kept
    assert _state(app) == before
    run_worker(app)
    assert smtp.messages == []


def test_a_facilitator_from_another_community_is_refused_by_the_domain(app, ctx, personas):
    with pytest.raises(DomainError) as refused:
        _schedule(app, personas, facilitator_id=_member_id(app, "ben@example.org"))
    assert refused.value.field == "facilitator_id"


def test_the_form_says_which_time_zone_the_time_is_in(app, alice_client, personas):
    html = alice_client.get(_base(personas) + "/new").get_data(as_text=True)
    assert re.search(r'id="start_time-hint">In Central Time \(Chicago\)', html)
    assert "Markdown works" in html
    assert re.search(r'<input checked id="invite_all" name="invite_all" type="checkbox"', html)
    assert "Ana Torres &lt;ana@example.org&gt;" in html  # as a facilitator and as an invitee


# --- changes --------------------------------------------------------------------------------------

def test_moving_the_meeting_sends_an_update_with_the_same_uid_and_sequence_1(app, alice_client, personas, smtp):
    meeting_id = _schedule(app, personas)
    run_worker(app)
    [(_, invitation)] = _calendars(smtp, "ana@example.org")
    url = f"{_base(personas)}/{meeting_id}/edit"
    form = alice_client.get(url).get_data(as_text=True)
    assert 'value="18:00"' in form and f'value="{_future_day().isoformat()}"' in form  # local time, pre-filled
    new_day = _future_day(31)
    response = post_form(alice_client, url, _form(new_day, "19:15", title="Monthly call (moved)"))
    assert response.status_code == 302
    assert "Changes saved. 1 invitee gets an update." in alice_client.get(response.headers["Location"]).get_data(
        as_text=True)
    meeting = _meeting(app, meeting_id)
    new_start = datetime.combine(new_day, time(19, 15), CHICAGO).astimezone(timezone.utc)
    assert meetings.aware(meeting.starts_at) == new_start and meeting.sequence == 1

    run_worker(app)
    [_, (method, update)] = _calendars(smtp, "ana@example.org")
    assert method == "REQUEST"
    assert str(_event(update)["UID"]) == str(_event(invitation)["UID"]) == meeting.uid
    assert int(_event(update)["SEQUENCE"]) == 1
    assert _event(update).decoded("DTSTART") == new_start
    assert str(_event(update)["SUMMARY"]) == "Monthly call (moved)"
    with app.app_context():
        due = {r.offset_minutes: meetings.aware(r.due_at) for r in db.session.scalars(select(Reminder))}
    assert due == {1440: new_start - timedelta(days=1), 60: new_start - timedelta(hours=1)}


def test_saving_without_changes_sends_nothing(app, alice_client, personas, smtp):
    meeting_id = _schedule(app, personas, location="Casa Verde, 12 Main St", agenda="1. Welcome\n2. **Grant** season",
                           duration_minutes=90, video_url="https://meet.example.org/riverside")
    run_worker(app)
    before = _state(app)
    response = post_form(alice_client, f"{_base(personas)}/{meeting_id}/edit", _form(_future_day()))
    assert response.status_code == 302
    assert "Nothing changed" in alice_client.get(response.headers["Location"]).get_data(as_text=True)
    assert _state(app) == before
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1


@pytest.mark.parametrize("change, field", [
    ({"start_date": (date.today() - timedelta(days=2)).isoformat()}, "start_date"),
    ({"start_date": "2027-03-14", "start_time": "02:30"}, "start_time"),
    ({"title": ""}, "title"),
    ({"video_url": "ftp://example.org"}, "video_url"),
])
def test_bad_edits_change_nothing_and_send_nothing(app, alice_client, personas, smtp, change, field):
    meeting_id = _schedule(app, personas)
    run_worker(app)
    before = _state(app)
    form = {k: v for k, v in {**_form(_future_day()), **change}.items() if v is not None}
    response = post_form(alice_client, f"{_base(personas)}/{meeting_id}/edit", form)
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _state(app) == before
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1


def test_cancelling_sends_method_cancel_and_stops_reminders(app, alice_client, personas, smtp):
    meeting_id = _schedule(app, personas)
    run_worker(app)
    page_url = f"{_base(personas)}/{meeting_id}"
    response = post_form(alice_client, page_url, {}, post_url=page_url + "/cancel")
    assert response.status_code == 302
    page = alice_client.get(page_url).get_data(as_text=True)
    assert "Meeting cancelled." in page and "Cancel this meeting" not in page and "Edit or move" not in page
    meeting = _meeting(app, meeting_id)
    assert meeting.status == "cancelled"
    with app.app_context():
        assert {r.status for r in db.session.scalars(select(Reminder))} == {"cancelled"}

    run_worker(app)
    [(_, invitation), (method, cancellation)] = _calendars(smtp, "ana@example.org")
    assert method == "CANCEL" and str(cancellation["METHOD"]) == "CANCEL"
    assert str(_event(cancellation)["UID"]) == str(_event(invitation)["UID"])
    assert str(_event(cancellation)["STATUS"]) == "CANCELLED"
    assert int(_event(cancellation)["SEQUENCE"]) > int(_event(invitation)["SEQUENCE"])

    # Cancelling twice sends nothing more; a cancelled meeting can no longer be edited.
    before = _state(app)
    post_form(alice_client, page_url, {}, post_url=page_url + "/cancel")
    response = post_form(alice_client, page_url, _form(_future_day(40)), post_url=page_url + "/edit")
    assert response.status_code == 302
    assert _state(app) == before
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 2


def test_inviting_more_members_later_sends_only_the_new_invitation(app, alice_client, personas, smtp):
    ana = _member_id(app, "ana@example.org")
    meeting_id = _schedule(app, personas, member_ids=[ana])
    sam = _add_sam(app, personas)
    run_worker(app)
    assert len(_calendars(smtp, "ana@example.org")) == 1

    page_url = f"{_base(personas)}/{meeting_id}"
    page = alice_client.get(page_url).get_data(as_text=True)
    assert f'value="{sam}"' in page and f'name="member_ids" type="checkbox" value="{ana}"' not in page
    response = post_form(alice_client, page_url, {"member_ids": [str(sam)]}, post_url=page_url + "/invite")
    assert response.status_code == 302
    assert "1 more member invited." in alice_client.get(page_url).get_data(as_text=True)
    assert set(_invitations(app, meeting_id)) == {"ana@example.org", "sam@example.org"}

    run_worker(app)
    assert len(_calendars(smtp, "ana@example.org")) == 1
    [(method, calendar)] = _calendars(smtp, "sam@example.org")
    assert method == "REQUEST" and str(_event(calendar)["UID"]) == _meeting(app, meeting_id).uid


@pytest.mark.parametrize("chosen", [[], ["ana"], ["ben"], ["not-a-number"]])
def test_inviting_nobody_someone_invited_or_an_outsider_changes_nothing(app, alice_client, personas, smtp, chosen):
    ana = _member_id(app, "ana@example.org")
    meeting_id = _schedule(app, personas, member_ids=[ana])
    _add_sam(app, personas)
    run_worker(app)
    ids = {"ana": ana, "ben": _member_id(app, "ben@example.org")}
    before = _state(app)
    page_url = f"{_base(personas)}/{meeting_id}"
    response = post_form(alice_client, page_url, {"member_ids": [str(ids.get(c, c)) for c in chosen]},
                         post_url=page_url + "/invite")
    assert response.status_code == 400
    assert 'class="error-summary"' in response.get_data(as_text=True)
    assert _state(app) == before
    run_worker(app)
    assert smtp.to("sam@example.org") == [] and smtp.to("ben@example.org") == []


# --- answers and attendance -----------------------------------------------------------------------

def test_the_meeting_page_shows_answers_live(app, alice_client, personas):
    _add_sam(app, personas)
    meeting_id = _schedule(app, personas)
    page_url = f"{_base(personas)}/{meeting_id}"
    page = alice_client.get(page_url).get_data(as_text=True)
    assert "<strong>Yes: 0</strong>" in page and "<strong>No answer: 2</strong>" in page

    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        meetings.record_rsvp(meeting, ana, "yes", note="Bringing the flyers", via="email")
        db.session.commit()
    page = alice_client.get(page_url).get_data(as_text=True)
    yes = re.search(r'<li id="answer-yes">(.*?)</li>', page, re.S).group(1)
    pending = re.search(r'<li id="answer-none">(.*?)</li>', page, re.S).group(1)
    assert "<strong>Yes: 1</strong>" in yes and "Ana Torres" in yes
    assert "<strong>No answer: 1</strong>" in pending and "Sam Lee" in pending and "Ana Torres" not in pending
    assert "<td>Bringing the flyers</td>" in page

    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
        meetings.record_rsvp(meeting, ana, "no")
        db.session.commit()
    page = alice_client.get(page_url).get_data(as_text=True)
    assert "<strong>Yes: 0</strong>" in page and "Ana Torres" in re.search(
        r'<li id="answer-no">(.*?)</li>', page, re.S).group(1)
    listing = alice_client.get(_base(personas) + "/").get_data(as_text=True)
    assert "Monthly call" in listing and "50%" in listing  # 1 of 2 answered


def _past_meeting_with_answers(app, personas) -> tuple[int, int, int]:
    sam = _add_sam(app, personas)
    ana = _member_id(app, "ana@example.org")
    meeting_id = _schedule(app, personas)
    with app.app_context():
        meeting = db.session.get(Meeting, meeting_id)
        for member_id, answer in ((ana, "yes"), (sam, "no")):
            meetings.record_rsvp(meeting, db.session.get(Member, member_id), answer)
        meeting.starts_at = datetime.now(timezone.utc) - timedelta(hours=3)
        db.session.commit()
    return meeting_id, ana, sam


def test_attendance_checklist_starts_from_the_yes_answers_and_saves_attended_flags(app, alice_client, personas):
    meeting_id, ana, sam = _past_meeting_with_answers(app, personas)
    url = f"{_base(personas)}/{meeting_id}/attendance"
    page = alice_client.get(url).get_data(as_text=True)
    assert re.search(rf'<input checked id="attended-\d" name="attended" type="checkbox" value="{ana}"', page)
    assert re.search(rf'<input id="attended-\d" name="attended" type="checkbox" value="{sam}"', page)

    response = post_form(alice_client, url, {"attended": [str(sam)], "save": "1"})
    assert response.status_code == 302
    assert "Attendance saved: 1 of 2 came." in alice_client.get(response.headers["Location"]).get_data(as_text=True)
    invitations = _invitations(app, meeting_id)
    assert (invitations["ana@example.org"].attended, invitations["sam@example.org"].attended) == (False, True)
    meeting = _meeting(app, meeting_id)
    assert meeting.attendance_taken_at is not None and meeting.feedback_due_at is not None
    # Taken again later, the checklist shows what was saved, not the answers.
    page = alice_client.get(url).get_data(as_text=True)
    assert re.search(rf'<input checked id="attended-\d" name="attended" type="checkbox" value="{sam}"', page)

    response = post_form(alice_client, url, {"attended": [str(sam)], "all_yes": "1"})
    assert response.status_code == 302
    invitations = _invitations(app, meeting_id)
    assert (invitations["ana@example.org"].attended, invitations["sam@example.org"].attended) == (True, False)

    listing = alice_client.get(_base(personas) + "/").get_data(as_text=True)
    past = listing.split("Past</h2>", 1)[1]
    assert "Monthly call" in past and "100%" in past and "50%" in past  # everyone answered; 1 of 2 came


def test_bad_attendance_posts_change_nothing(app, alice_client, personas):
    meeting_id, ana, sam = _past_meeting_with_answers(app, personas)
    ben = _member_id(app, "ben@example.org")
    future_id = _schedule(app, personas, title="Next call")
    before = _state(app)
    url = f"{_base(personas)}/{meeting_id}/attendance"
    assert post_form(alice_client, url, {"attended": [str(ben)], "save": "1"}).status_code == 400
    assert post_form(alice_client, url, {"attended": ["x"], "save": "1"}).status_code == 400
    future = f"{_base(personas)}/{future_id}/attendance"
    page = alice_client.get(future).get_data(as_text=True)
    assert "Attendance can be taken once the meeting has started." in page and 'name="attended"' not in page
    response = post_form(alice_client, future, {"all_yes": "1"})
    assert response.status_code == 400
    assert "Attendance can be taken once the meeting has started." in response.get_data(as_text=True)
    assert _state(app) == before


# --- community settings ---------------------------------------------------------------------------

def _community_form(**overrides) -> dict:
    return {"name": "Riverside COP", "description": "", "time_zone": "America/Chicago", "stage": "forming",
            "digest_cadence": "biweekly", "reminder_offsets": "", "feedback_delay_hours": "2", **overrides}


def test_reminder_offsets_and_feedback_delay_are_community_settings(app, alice_client, personas):
    url = f"/communities/{personas['riverside']}/edit"
    response = post_form(alice_client, url, _community_form(reminder_offsets="60, 2880,  15",
                                                            feedback_delay_hours="24"))
    assert response.status_code == 302
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        assert (riverside.reminder_offsets, riverside.feedback_delay_hours) == ([2880, 60, 15], 24)
    assert 'value="2880, 60, 15"' in alice_client.get(url).get_data(as_text=True)
    meeting_id = _schedule(app, personas)
    with app.app_context():
        offsets = set(db.session.scalars(select(Reminder.offset_minutes).where(Reminder.meeting_id == meeting_id)))
    assert offsets == {2880, 60, 15}


@pytest.mark.parametrize("change, field", [
    ({"reminder_offsets": "1440, soon"}, "reminder_offsets"),
    ({"reminder_offsets": "1440, -60"}, "reminder_offsets"),
    ({"reminder_offsets": "1440, 0"}, "reminder_offsets"),
    ({"reminder_offsets": "90.5"}, "reminder_offsets"),
    ({"reminder_offsets": "5, 10, 15, 20, 25, 30"}, "reminder_offsets"),
    ({"feedback_delay_hours": "169"}, "feedback_delay_hours"),
    ({"feedback_delay_hours": "-1"}, "feedback_delay_hours"),
    ({"feedback_delay_hours": "1.5"}, "feedback_delay_hours"),
])
def test_bad_meeting_settings_are_refused_and_change_nothing(app, alice_client, personas, change, field):
    before = _state(app)
    response = post_form(alice_client, f"/communities/{personas['riverside']}/edit", _community_form(**change))
    assert response.status_code == 400
    assert f'id="{field}-error"' in response.get_data(as_text=True)
    assert _state(app) == before


# --- permissions and CSRF -------------------------------------------------------------------------

def _meeting_urls(app, personas, meeting_id: int, only_with_meeting: bool = False) -> list[tuple[str, str]]:
    """(method, url) for every method of every meetings route, on alice's community."""
    from flask import url_for
    found = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if rule.endpoint.startswith("meetings.") and ("meeting_id" in rule.arguments or not only_with_meeting):
                args = {"community_id": personas["riverside"], "meeting_id": meeting_id}
                url = url_for(rule.endpoint, **{k: v for k, v in args.items() if k in rule.arguments})
                found += [(method, url) for method in sorted(rule.methods & {"GET", "POST"})]
    return found


def test_bob_gets_404_on_every_meeting_route_of_alices_community(app, client, personas, smtp):
    meeting_id, ana, sam = _past_meeting_with_answers(app, personas)
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    token = csrf_from(client.get("/").get_data(as_text=True))
    urls = _meeting_urls(app, personas, meeting_id)
    assert {m for m, _ in urls} == {"GET", "POST"} and len(urls) >= 9
    run_worker(app)
    sent = len(smtp.messages)
    before = _state(app)
    for method, url in urls:
        if method == "GET":
            response = client.get(url)
        else:
            response = client.post(url, data={"csrf_token": token, "member_ids": [str(sam)], "attended": [str(ana)],
                                              "all_yes": "1", **_form(_future_day(), title="Hacked")})
        assert response.status_code == 404, f"{method} {url} answered {response.status_code}"
        html = response.get_data(as_text=True)
        assert "Monthly call" not in html and "Ana Torres" not in html
    assert _state(app) == before
    run_worker(app)
    assert len(smtp.messages) == sent


def test_a_meeting_of_another_community_is_not_found_under_alices(app, alice_client, personas):
    with app.app_context():
        bob = db.session.get(Coordinator, personas["bob"])
        lakeside = db.session.get(Community, personas["lakeside"])
        bobs = meetings.create_meeting(bob, lakeside, title="Lakeside call",
                                       starts_at=datetime.now(timezone.utc) + timedelta(days=3)).id
        db.session.commit()
    token = csrf_from(alice_client.get("/").get_data(as_text=True))
    before = _state(app)
    urls = _meeting_urls(app, personas, bobs, only_with_meeting=True)
    assert len(urls) >= 6
    for method, url in urls:
        response = alice_client.get(url) if method == "GET" else alice_client.post(url, data={"csrf_token": token})
        assert response.status_code == 404, f"{method} {url}"
    assert _state(app) == before


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(app, alice_client, personas, smtp):
    meeting_id, ana, sam = _past_meeting_with_answers(app, personas)
    upcoming = _schedule(app, personas, title="Next call", member_ids=[ana])
    before = _state(app)
    posts = [url for method, url in _meeting_urls(app, personas, meeting_id) if method == "POST"]
    posts += [url for method, url in _meeting_urls(app, personas, upcoming) if method == "POST"]
    for url in posts:
        response = alice_client.post(url, data={"member_ids": [str(sam)], "attended": [str(ana)], "all_yes": "1",
                                                **_form(_future_day(), title="Forged")})
        assert response.status_code == 400, url
        assert "This form has expired" in response.get_data(as_text=True)
    assert _state(app) == before


def test_anonymous_visitors_are_sent_to_login(app, client, personas):
    meeting_id = _schedule(app, personas)
    for method, url in _meeting_urls(app, personas, meeting_id):
        if method == "GET":
            response = client.get(url)
            assert response.status_code == 302 and response.headers["Location"].startswith("/login"), url
