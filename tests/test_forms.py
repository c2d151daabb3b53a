"""Member forms (charter, meeting feedback) by signed link, form requests, reminders and the dashboard."""
import re
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from service import form_requests, meetings, members, responses
from service.errors import DomainError
from service.extensions import db
from service.models import (AuditEvent, Community, Coordinator, FormAnswer, FormRequest, FormResponse, Member,
                            OutboundEmail)
from service.tokens import make_token, read_token
from tests.conftest import csrf_from, run_worker

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FEEDBACK = {"usefulness": "4", "what_worked": "The small groups", "what_to_change": "Start on time",
            "next_topics": "Grant reporting", "recommend": "9"}
CHARTER = {"purpose": "Share what works for small food banks", "goals": "Two joint trainings"}


def _community(name="Riverside COP") -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _member(email="ana@example.org") -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _alice() -> Coordinator:
    return db.session.scalar(select(Coordinator).where(Coordinator.email == "alice@example.org"))


def _add(name, email, community="Riverside COP", language="en") -> Member:
    members.add_member(None, _community(community), name=name, email=email, language=language)
    db.session.commit()
    return _member(email)


def _send(kind="charter", people=None, deadline=timedelta(days=5), community="Riverside COP",
          meeting=None) -> FormRequest:
    people = people or [_member()]
    form_request = form_requests.send_request(None, _community(community), kind, "Our charter" if kind == "charter"
                                              else "", [p.id for p in people],
                                              datetime.now(timezone.utc) + deadline, meeting=meeting)
    db.session.commit()
    return form_request


def _response(form_request, member) -> FormResponse:
    db.session.expire_all()
    return form_requests.response_of(form_request, member)


def _path(response: FormResponse) -> str:
    return f"/m/forms/{response.id}/{make_token('form', response.member_id, response.id)}"


def _post(client, path, data, button="submit"):
    """Post the form as a browser would, following the redirect to the saved page."""
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    return client.post(path, data={"csrf_token": csrf, button: "1", **data}, follow_redirects=True)


def _answers() -> int:
    return db.session.scalar(select(func.count()).select_from(FormAnswer))


def _past_meeting(attendees):
    meeting = meetings.create_meeting(None, _community(), title="Monthly call",
                                      starts_at=datetime.now(timezone.utc) + timedelta(days=1))
    meeting.starts_at = datetime.now(timezone.utc) - timedelta(hours=3)
    meeting.community.feedback_delay_hours = 0
    meetings.mark_attendance(None, meeting, {m.id for m in attendees})
    db.session.commit()
    return meeting


# --- validation -----------------------------------------------------------------------------------

def test_feedback_form_refuses_missing_and_out_of_range_ratings_with_an_announced_summary(app, ctx, personas,
                                                                                         client):
    sam = _add("Sam Lee", "sam@example.org")
    meeting = _past_meeting([sam])
    form_request = _send("feedback", [sam], meeting=meeting)
    path = _path(_response(form_request, sam))

    page = _post(client, path, {"what_worked": "Kept this text"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert 'class="error-summary" role="alert"' in html
    assert 'href="#usefulness"' in html and 'href="#recommend"' in html
    assert "Choose a number from 1 to 5." in html and "Choose a number from 0 to 10." in html
    assert 'id="usefulness-error"' in html and 'aria-describedby="usefulness-hint usefulness-error"' in html
    assert "Kept this text" in html                                    # what was typed is kept
    assert _response(form_request, sam).status == "requested" and _answers() == 0

    page = _post(client, path, {**FEEDBACK, "usefulness": "7", "recommend": "11"})
    assert page.status_code == 400 and _answers() == 0
    assert 'href="#usefulness"' in page.get_data(as_text=True)

    page = _post(client, path, {**FEEDBACK, "what_to_change": "x" * 5001})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "under 5000 characters" in html
    assert 'aria-describedby="what_to_change-error"' in html and _answers() == 0

    assert _post(client, path, FEEDBACK).status_code == 200
    assert responses.answers_of(_response(form_request, sam)) == {
        "usefulness": 4, "what_worked": "The small groups", "what_to_change": "Start on time",
        "next_topics": "Grant reporting", "recommend": 9}


def test_charter_form_requires_the_purpose_on_submit_but_not_on_a_draft(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [sam])
    path = _path(_response(form_request, sam))
    page = _post(client, path, {"goals": "Two joint trainings"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'href="#purpose"' in html and "Please answer this question." in html
    assert 'aria-invalid="true"' in html and _answers() == 0

    page = _post(client, path, {"goals": "Two joint trainings"}, button="save_draft")
    assert page.status_code == 200 and 'role="alert"' not in page.get_data(as_text=True)
    assert "Your draft is saved" in page.get_data(as_text=True)
    assert _response(form_request, sam).status == "draft"


def test_the_domain_checks_answers_too(app, ctx, personas):
    form_request = _send("feedback", [_member()], meeting=_past_meeting([_member()]))
    response = _response(form_request, _member())
    with pytest.raises(DomainError) as error:
        responses.save(response, {**FEEDBACK, "usefulness": 6}, submit=False)
    assert error.value.field == "usefulness"
    with pytest.raises(DomainError) as error:
        responses.save(response, {"what_worked": "ok"}, submit=True)
    assert error.value.field == "usefulness"
    db.session.rollback()
    assert _answers() == 0


# --- drafts and resubmission ----------------------------------------------------------------------

def test_a_draft_is_there_when_the_member_comes_back_by_the_same_link(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [sam])
    path = _path(_response(form_request, sam))
    assert "Welcome back" not in client.get(path).get_data(as_text=True)
    _post(client, path, {"goals": "Two joint trainings", "rhythm": "Monthly, online"}, button="save_draft")

    again = client.get(path).get_data(as_text=True)
    assert "Welcome back" in again
    assert "\nTwo joint trainings</textarea>" in again and "\nMonthly, online</textarea>" in again
    # Emptying an answer in a later draft removes it; the rest stays.
    _post(client, path, {"goals": "Two joint trainings"}, button="save_draft")
    assert responses.answers_of(_response(form_request, sam)) == {"goals": "Two joint trainings"}
    # The draft is then finished and submitted.
    page = _post(client, path, {"goals": "Two joint trainings", "purpose": "Learn from each other"})
    assert page.status_code == 200 and "Thank you, your answers are submitted." in page.get_data(as_text=True)
    response = _response(form_request, sam)
    assert response.status == "submitted" and response.submitted_at is not None


def test_a_saved_form_redirects_so_reloading_the_confirmation_saves_nothing_twice(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("feedback", [sam], meeting=_past_meeting([sam]))
    path = _path(_response(form_request, sam))
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    posted = client.post(path, data={"csrf_token": csrf, "submit": "1", **FEEDBACK})
    assert posted.status_code == 303 and posted.headers["Location"] == f"{path}?saved=submitted"
    for _reload in range(2):
        page = client.get(posted.headers["Location"]).get_data(as_text=True)
        assert "Thank you, your answers are submitted." in page and "The small groups" in page
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "form_request")).all()
    assert actions.count("form.submit") == 1 and "form.resubmit" not in actions and _answers() == 5
    # ?saved= only confirms what the database holds: on another member's fresh form it says nothing.
    tom = _add("Tom Reyes", "tom@example.org")
    other = _path(_response(_send("feedback", [tom], meeting=_past_meeting([tom])), tom))
    assert "your answers are submitted" not in client.get(f"{other}?saved=submitted").get_data(as_text=True)


def test_resubmission_updates_the_answers_instead_of_adding_rows(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("feedback", [sam], meeting=_past_meeting([sam]))
    response = _response(form_request, sam)
    path = _path(response)
    assert _post(client, path, FEEDBACK).status_code == 200
    assert _answers() == 5
    page = client.get(path).get_data(as_text=True)
    assert "Update my answers" in page and 'name="save_draft"' not in page   # no way back to a draft
    assert re.search(r'<input checked id="usefulness-3" name="usefulness" type="radio" value="4">', page)

    assert _post(client, path, {**FEEDBACK, "usefulness": "2", "next_topics": ""}).status_code == 200
    assert _answers() == 4                                     # updated in place; the emptied one removed
    assert responses.answers_of(_response(form_request, sam))["usefulness"] == 2
    # A draft button pressed anyway does not un-submit the response.
    assert _post(client, path, FEEDBACK, button="save_draft").status_code == 200
    assert _response(form_request, sam).status == "submitted" and _answers() == 5
    actions = list(db.session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "form_request")
                                      .order_by(AuditEvent.id)))
    assert actions.count("form.submit") == 1 and actions.count("form.resubmit") == 2


def test_after_the_deadline_the_form_is_closed_and_nothing_is_saved(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [sam])
    path = _path(_response(form_request, sam))
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    form_request.deadline_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    db.session.commit()

    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "This form is closed." in html and "<form" not in html
    posted = client.post(path, data={"csrf_token": csrf, "submit": "1", **CHARTER})
    assert posted.status_code == 409 and "This form is closed." in posted.get_data(as_text=True)
    assert "The deadline was <time datetime=" in html and "The deadline was <time datetime=" in posted.get_data(
        as_text=True)
    assert _answers() == 0 and _response(form_request, sam).status == "requested"
    with pytest.raises(DomainError):
        responses.save(_response(form_request, sam), CHARTER, submit=True)


def test_an_archived_communitys_form_takes_no_answers_and_its_page_names_nothing(app, ctx, personas, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [sam])
    path = _path(_response(form_request, sam))
    csrf = csrf_from(client.get(path).get_data(as_text=True))
    _community().archived_at = datetime.now(timezone.utc)
    db.session.commit()

    posted = client.post(path, data={"csrf_token": csrf, "submit": "1", **CHARTER})
    html = posted.get_data(as_text=True)
    assert posted.status_code == 409 and "It no longer takes answers" in html and "Riverside" not in html
    assert _answers() == 0 and _response(form_request, sam).status == "requested"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action.in_(["form.submit", "form.resubmit"]))) == 0
    # Someone else's link there is still a bad link, whatever the community.
    ben = _member("ben@example.org")
    stranger = client.post(f"/m/forms/{_response(form_request, sam).id}/"
                           f"{make_token('form', ben.id, _response(form_request, sam).id)}",
                           data={"csrf_token": csrf, "submit": "1", **CHARTER})
    assert stranger.status_code == 400 and "archived" not in stranger.get_data(as_text=True)


# --- links ----------------------------------------------------------------------------------------

def test_tampered_expired_and_other_members_links_are_refused_and_save_nothing(app, ctx, personas, client,
                                                                              monkeypatch):
    ana, ben = _member(), _member("ben@example.org")
    ana_response = _response(_send("charter", [ana]), ana)
    ben_response = _response(_send("charter", [ben], community="Lakeside COP"), ben)
    good = make_token("form", ana.id, ana_response.id)
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - 400 * 86400)
    expired = make_token("form", ana.id, ana_response.id)
    monkeypatch.undo()
    bad = {
        "tampered": f"/m/forms/{ana_response.id}/{good[:-3]}abc",
        "ana's token on ben's response": f"/m/forms/{ben_response.id}/{good}",
        "ben's response id in ana's token, ana's id": f"/m/forms/{ana_response.id}/"
                                                      f"{make_token('form', ana.id, ben_response.id)}",
        "ana's member id for ben's response": f"/m/forms/{ben_response.id}/"
                                              f"{make_token('form', ana.id, ben_response.id)}",
        "other purpose": f"/m/forms/{ana_response.id}/{make_token('rsvp', ana.id, ana_response.id)}",
        "expired": f"/m/forms/{ana_response.id}/{expired}",
    }
    csrf = csrf_from(client.get(f"/m/forms/{ana_response.id}/{good}").get_data(as_text=True))
    for name, path in bad.items():
        for page in (client.get(path), client.post(path, data={"csrf_token": csrf, "submit": "1", **CHARTER})):
            html = page.get_data(as_text=True)
            assert page.status_code == 400, name
            assert "<textarea" not in html and "Lakeside" not in html, name
    assert "expired" in client.get(bad["expired"]).get_data(as_text=True)
    assert _answers() == 0


def test_a_post_without_csrf_token_is_refused(app, ctx, personas, client):
    response = _response(_send("charter", [_member()]), _member())
    page = client.post(_path(response), data={"submit": "1", **CHARTER})
    assert page.status_code == 400 and _answers() == 0


def test_what_a_member_wrote_is_escaped_on_their_page_and_the_dashboard(app, ctx, personas, alice_client):
    form_request = _send("charter", [_member()])
    path = _path(_response(form_request, _member()))
    page = _post(alice_client, path, {**CHARTER, "purpose": XSS, "goals": XSS})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    again = alice_client.get(path).get_data(as_text=True)
    assert "<script>alert" not in again and "&lt;script&gt;" in again
    dashboard = alice_client.get(f"/communities/{form_request.community_id}/forms/{form_request.id}")
    html = dashboard.get_data(as_text=True)
    assert dashboard.status_code == 200 and "&lt;script&gt;" in html
    assert "<script>alert" not in html and "<img src=x" not in html


def test_the_member_page_speaks_the_members_language(app, ctx, personas, client):
    response = _response(_send("charter", [_member()]), _member())
    html = client.get(_path(response), headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert 'lang="es"' in html and 'name="purpose"' in html


# --- requests, emails and reminders ---------------------------------------------------------------

def test_each_member_gets_their_own_link_by_email(app, ctx, personas, smtp, client):
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [_member(), sam])
    assert db.session.scalar(select(func.count()).select_from(FormResponse).where(
        FormResponse.request_id == form_request.id, FormResponse.status == "requested")) == 2
    run_worker(app)
    [received] = smtp.to("sam@example.org")
    text = received.message.get_body(("plain",)).get_content()
    assert "Our charter" in received.message["Subject"] and "Our charter" in text
    link = next(word for word in text.split() if "/m/forms/" in word)
    sam_response = _response(form_request, sam)
    path = "/" + link.split("/", 3)[3]
    assert path.startswith(f"/m/forms/{sam_response.id}/")
    assert read_token("form", path.rsplit("/", 1)[1], object_id=sam_response.id) == sam.id
    page = client.get(path)
    assert page.status_code == 200 and 'name="purpose"' in page.get_data(as_text=True)
    ana_text = smtp.to("ana@example.org")[0].message.get_body(("plain",)).get_content()
    assert f"/m/forms/{_response(form_request, _member()).id}/" in ana_text    # Ana's own link


def test_the_reminder_is_scheduled_a_day_before_or_halfway_when_the_deadline_is_close(app, ctx, personas):
    from service.queue import get_queue
    far = _send("charter", [_member()], deadline=timedelta(days=5))
    close = _send("charter", [_member()], deadline=timedelta(hours=10))
    assert form_requests.reminder_due(far) == (meetings.aware(far.deadline_at) - timedelta(hours=24))
    halfway = meetings.aware(close.created_at) + (meetings.aware(close.deadline_at)
                                                  - meetings.aware(close.created_at)) / 2
    assert abs((form_requests.reminder_due(close) - halfway).total_seconds()) <= 1
    scheduled = get_queue().scheduled_job_registry.get_job_ids()
    assert form_requests._job_id(far) in scheduled and form_requests._job_id(close) in scheduled


def _reminded() -> set[str]:
    return set(db.session.scalars(select(OutboundEmail.recipient).where(OutboundEmail.kind == "form_reminder")))


def test_reminders_go_only_to_members_who_have_not_submitted(app, ctx, personas, smtp, client):
    sam, tom = _add("Sam Lee", "sam@example.org"), _add("Tom Ray", "tom@example.org")
    form_request = _send("charter", [_member(), sam, tom])
    _post(client, _path(_response(form_request, _member())), CHARTER)              # Ana submits
    _post(client, _path(_response(form_request, tom)), {"goals": "x"}, button="save_draft")  # Tom drafts
    deadline = int(meetings.aware(form_request.deadline_at).timestamp())

    assert form_requests.send_reminders(form_request.id, deadline - 60) == 0      # a job for an old deadline
    assert form_requests.send_reminders(form_request.id, deadline) == 2
    assert form_requests.send_reminders(form_request.id, deadline) == 0           # once per request
    assert _reminded() == {"sam@example.org", "tom@example.org"}
    run_worker(app)
    assert not [m for m in smtp.to("ana@example.org") if "Reminder" in m.message["Subject"]
                or "Recordatorio" in m.message["Subject"]]
    [tom_reminder] = [m for m in smtp.to("tom@example.org") if "Reminder" in m.message["Subject"]]
    text = tom_reminder.message.get_body(("plain",)).get_content()
    # (The link's token carries the second it was made, so compare up to it.)
    assert "Your draft is saved" in text and f"/m/forms/{_response(form_request, tom).id}/" in text


def test_form_requests_reminders_and_feedback_requests_carry_one_click_unsubscribe(app, ctx, personas, smtp):
    """Community mail a member can stop: RFC 8058's two headers, naming the member's own unsubscribe link."""
    ana = _member()
    form_request = _send("charter", [ana])
    form_requests.send_reminders(form_request.id, int(meetings.aware(form_request.deadline_at).timestamp()))
    meetings.send_feedback_requests(_past_meeting([ana]).id)
    db.session.commit()
    run_worker(app)
    kinds = dict(db.session.execute(select(OutboundEmail.kind, OutboundEmail.id).where(
        OutboundEmail.recipient == ana.email, OutboundEmail.status == "sent")).all())
    assert {"form_request", "form_reminder", "feedback_request"} <= set(kinds)
    received = smtp.to(ana.email)
    assert len(received) == len(kinds)
    for message in (item.message for item in received):
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", message["Subject"]
        [link] = re.findall(r"<(https?://[^>]+)>", str(message["List-Unsubscribe"]))
        assert read_token("unsubscribe", link.rsplit("/", 1)[1]) == ana.id


def test_the_reminder_job_runs_on_a_real_worker(app, ctx, personas, smtp, client):
    from service.queue import get_queue
    sam = _add("Sam Lee", "sam@example.org")
    form_request = _send("charter", [_member(), sam])
    _post(client, _path(_response(form_request, _member())), CHARTER)
    deadline = int(meetings.aware(form_request.deadline_at).timestamp())
    get_queue().enqueue("jobs.forms.send_reminders", form_request.id, deadline)
    run_worker(app)
    db.session.expire_all()
    assert _reminded() == {"sam@example.org"}
    assert db.session.get(FormRequest, form_request.id).reminder_sent_at is not None
    assert [m for m in smtp.to("sam@example.org") if "Reminder" in m.message["Subject"]]


def test_moving_the_deadline_makes_the_old_job_do_nothing(app, ctx, personas):
    form_request = _send("charter", [_member()])
    old = int(meetings.aware(form_request.deadline_at).timestamp())
    form_requests.change_deadline(None, form_request, datetime.now(timezone.utc) + timedelta(days=9))
    db.session.commit()
    assert form_requests.send_reminders(form_request.id, old) == 0 and _reminded() == set()
    assert form_requests.send_reminders(
        form_request.id, int(meetings.aware(form_request.deadline_at).timestamp())) == 1


def test_the_sweeper_restores_a_lost_reminder_and_sends_an_overdue_one(app, ctx, personas):
    from service.queue import get_queue, redis_connection
    future = _send("charter", [_member()], deadline=timedelta(days=5))
    overdue = _send("charter", [_member()], deadline=timedelta(hours=10))
    overdue.created_at = datetime.now(timezone.utc) - timedelta(days=2)   # due 14 hours ago
    db.session.commit()
    redis_connection().flushdb()                                           # Redis loses both jobs
    from jobs.sweeper import sweep
    counts = sweep()["forms"]
    assert counts == {"form_reminders_sent": 1, "form_reminders_rescheduled": 1}
    assert form_requests._job_id(future) in get_queue().scheduled_job_registry.get_job_ids()
    db.session.expire_all()
    assert db.session.get(FormRequest, overdue.id).reminder_sent_at is not None
    assert sweep()["forms"] == {"form_reminders_sent": 0, "form_reminders_rescheduled": 0}


def test_send_request_refuses_bad_input(app, ctx, personas):
    community, ana, ben = _community(), _member(), _member("ben@example.org")
    soon = datetime.now(timezone.utc) + timedelta(days=2)
    cases = [
        (dict(kind="poll", title="x", member_ids=[ana.id], deadline_at=soon), "kind"),
        (dict(kind="charter", title=" ", member_ids=[ana.id], deadline_at=soon), "title"),
        (dict(kind="charter", title="x", member_ids=[ana.id],
              deadline_at=datetime.now(timezone.utc) - timedelta(hours=1)), "deadline_date"),
        (dict(kind="charter", title="x", member_ids=[ben.id], deadline_at=soon), "member_ids"),  # not a member
        (dict(kind="feedback", title="x", member_ids=[ana.id], deadline_at=soon), "meeting_id"),
    ]
    for arguments, field in cases:
        with pytest.raises(DomainError) as error:
            form_requests.send_request(None, community, **arguments)
        assert error.value.field == field, arguments
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(FormRequest)) == 0


# --- meeting feedback -----------------------------------------------------------------------------

def test_the_meetings_feedback_link_opens_the_attendees_feedback_form(app, ctx, personas, smtp, client):
    sam = _add("Sam Lee", "sam@example.org")
    meeting = _past_meeting([sam])
    assert meetings.send_feedback_requests(meeting.id) == 1
    form_request = db.session.scalar(select(FormRequest).where(FormRequest.meeting_id == meeting.id))
    assert form_request.kind == "feedback" and form_request.title == "Monthly call"
    deadline = meetings.aware(form_request.deadline_at) - datetime.now(timezone.utc)
    assert timedelta(days=6, hours=23) < deadline <= timedelta(days=7)
    assert [r.member_id for r in form_requests.responses(form_request)] == [sam.id]  # attendees only
    run_worker(app)
    [email] = [m for m in smtp.to("sam@example.org") if "/feedback/" in m.message.get_body(("plain",)).get_content()]
    link = next(w for w in email.message.get_body(("plain",)).get_content().split() if "/feedback/" in w)
    path = "/" + link.split("/", 3)[3]
    page = client.get(path)
    assert page.status_code == 200 and 'name="usefulness"' in page.get_data(as_text=True)
    assert _post(client, path, FEEDBACK).status_code == 200
    assert _response(form_request, sam).status == "submitted" and _answers() == 5
    # Ana was not there: her feedback link (if she had one) shows the "not open" page, not someone's form.
    ana_path = f"/m/meetings/{meeting.id}/feedback/{make_token('feedback', _member().id, meeting.id)}"
    assert 'name="usefulness"' not in client.get(ana_path).get_data(as_text=True)
    # The same form can be requested only once per meeting.
    with pytest.raises(DomainError):
        _send("feedback", [sam], meeting=meeting)


# --- dashboard ------------------------------------------------------------------------------------

def _local_deadline(days=3) -> dict:
    local = datetime.now(ZoneInfo("America/Chicago")) + timedelta(days=days)
    return {"deadline_date": local.date().isoformat(), "deadline_time": "17:00"}


def test_a_coordinator_sends_a_form_and_sees_each_members_status(app, ctx, personas, alice_client):
    sam = _add("Sam Lee", "sam@example.org")
    riverside = personas["riverside"]
    show = alice_client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert f'href="/communities/{riverside}/forms/"' in show
    new = f"/communities/{riverside}/forms/new"
    csrf = csrf_from(alice_client.get(new).get_data(as_text=True))
    sent = alice_client.post(new, data={"csrf_token": csrf, "kind": "charter", "title": "Our charter",
                                        "send_to_all": "", "member_ids": [str(sam.id)], **_local_deadline()})
    assert sent.status_code == 302
    form_request = db.session.scalar(select(FormRequest))
    assert [r.member_id for r in form_requests.responses(form_request)] == [sam.id]
    local_deadline = meetings.aware(form_request.deadline_at).astimezone(ZoneInfo("America/Chicago"))
    assert (local_deadline.hour, local_deadline.minute) == (17, 0)

    _post(alice_client, _path(_response(form_request, sam)), CHARTER)
    page = alice_client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "Sam Lee" in page and "submitted" in page and "1 of 1" in page
    listing = alice_client.get(f"/communities/{riverside}/forms/").get_data(as_text=True)
    assert "Our charter" in listing and "1 of 1" in listing and "5:00" in listing

    everyone = alice_client.post(new, data={"csrf_token": csrf, "kind": "charter", "title": "Second round",
                                            "send_to_all": "y", **_local_deadline()})
    assert everyone.status_code == 302
    second = db.session.scalar(select(FormRequest).where(FormRequest.title == "Second round"))
    assert {r.member.email for r in form_requests.responses(second)} == {"ana@example.org", "sam@example.org"}


@pytest.mark.parametrize("changes, message", [
    ({"title": ""}, "Give the form a title"),
    ({"deadline_date": "2020-01-01"}, "at least an hour from now"),
    ({"deadline_date": "soon"}, "Not a valid date value"),
    ({"send_to_all": ""}, "Choose at least one member"),
    ({"kind": "feedback"}, "Choose the meeting the feedback is about."),
])
def test_the_send_page_explains_what_is_wrong(app, ctx, personas, alice_client, changes, message):
    new = f"/communities/{personas['riverside']}/forms/new"
    csrf = csrf_from(alice_client.get(new).get_data(as_text=True))
    data = {"csrf_token": csrf, "kind": "charter", "title": "Our charter", "send_to_all": "y",
            **_local_deadline(), **changes}
    page = alice_client.post(new, data={k: v for k, v in data.items() if v != ""})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and 'role="alert"' in html and message in html
    assert db.session.scalar(select(func.count()).select_from(FormRequest)) == 0


def test_another_communitys_request_is_not_found(app, ctx, personas, alice_client):
    bens = _send("charter", [_member("ben@example.org")], community="Lakeside COP")
    for url in (f"/communities/{personas['lakeside']}/forms/{bens.id}",
                f"/communities/{personas['riverside']}/forms/{bens.id}",
                f"/communities/{personas['lakeside']}/forms/"):
        assert alice_client.get(url).status_code == 404, url
