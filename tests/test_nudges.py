""""Write to those who have not answered", on a meeting and on a form request: exactly them, once each, in
their language with their own link; a second click sends nothing and says so; who may not do it."""
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from service import form_requests, meetings, members, nudges, preferences
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, Community, CommunityCoordinator, Coordinator, FormResponse, Member, \
    OutboundEmail
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker

CHICAGO = ZoneInfo("America/Chicago")


@pytest.fixture
def crowd(app, personas):
    """Riverside: Ana (Spanish), Sam (will answer), Pat (silent), Paula (silent, paused), Uma (silent,
    unsubscribed). Returns member ids by first name, lower case."""
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        for name, email in (("Sam Lee", "sam@example.org"), ("Pat Kim", "pat@example.org"),
                            ("Paula Ruiz", "paula@example.org"), ("Uma Diaz", "uma@example.org")):
            members.add_member(None, riverside, name=name, email=email)
        db.session.flush()
        ids = {email.split("@")[0]: member_id for email, member_id in db.session.execute(select(Member.email, Member.id))}
        db.session.get(Member, ids["paula"]).paused = True
        preferences.unsubscribe(db.session.get(Member, ids["uma"]), via="link")
        db.session.commit()
        return ids


def _meeting(app, personas) -> int:
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        day = (datetime.now(CHICAGO) + timedelta(days=30)).date()
        meeting = meetings.create_meeting(None, riverside, starts_at=meetings.to_utc(riverside, day, time(18)),
                                          member_ids=None, title="Monthly call")
        db.session.commit()
        return meeting.id


def _reminders(app, kind: str) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(OutboundEmail.recipient).where(OutboundEmail.kind == kind)))


def _plain(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def test_a_meeting_nudge_reaches_exactly_those_who_have_not_answered_once(app, personas, crowd, alice_client,
                                                                           smtp):
    meeting_id = _meeting(app, personas)
    with app.app_context():
        meetings.record_rsvp(db.session.get(meetings.Meeting, meeting_id), db.session.get(Member, crowd["sam"]),
                             "yes")
        db.session.commit()
    page_url = f"/communities/{personas['riverside']}/meetings/{meeting_id}"
    assert "Remind the 2 members who have not answered" in alice_client.get(page_url).get_data(as_text=True)

    response = post_form(alice_client, page_url, {}, post_url=page_url + "/nudge", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Reminder on its way to the 2 members who have not answered." in page
    assert "2 members were already reminded this way" in page and "Remind the" not in page
    assert _reminders(app, "meeting_reminder") == ["ana@example.org", "pat@example.org"]
    run_worker(app)
    [ana] = [m for m in smtp.to("ana@example.org") if m.message["Subject"].startswith("Recordatorio")]
    assert ana.message["Subject"] == "Recordatorio: Monthly call"
    assert f"/m/meetings/{meeting_id}/" in _plain(ana) and "<" not in _plain(ana).split("Monthly call")[0]
    [pat] = [m for m in smtp.to("pat@example.org") if m.message["Subject"].startswith("Reminder")]
    assert f"/m/meetings/{meeting_id}/" in _plain(pat)
    for silent_but_unreachable in ("sam", "paula", "uma"):
        assert not [m for m in smtp.to(f"{silent_but_unreachable}@example.org")
                    if "Reminder" in m.message["Subject"]]
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "meeting.nudge")).all()
        assert event.details == {"reminded": 2} and event.actor == "alice@example.org"

    # A second click (an old page, a double submit) sends nothing and says so.
    token = csrf_from(page)
    again = alice_client.post(page_url + "/nudge", data={"csrf_token": token}, follow_redirects=True)
    assert "Nothing sent: everyone who has not answered was already reminded." in again.get_data(as_text=True)
    assert _reminders(app, "meeting_reminder") == ["ana@example.org", "pat@example.org"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "meeting.nudge")) == 1


def test_a_form_nudge_reaches_those_who_have_not_submitted_once_with_their_own_link(app, personas, crowd,
                                                                                     alice_client, smtp):
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        form_request = form_requests.send_request(None, riverside, "charter", "Our charter", list(crowd.values()),
                                                  datetime.now(timezone.utc) + timedelta(days=5))
        submitted = db.session.scalar(select(FormResponse).where(FormResponse.request_id == form_request.id,
                                                                 FormResponse.member_id == crowd["sam"]))
        submitted.status = "submitted"
        pat_response = form_requests.response_of(form_request, db.session.get(Member, crowd["pat"])).id
        db.session.commit()
        request_id = form_request.id
    page_url = f"/communities/{personas['riverside']}/forms/{request_id}"
    assert "Remind the 2 members who have not answered" in alice_client.get(page_url).get_data(as_text=True)

    first = post_form(alice_client, page_url, {}, post_url=page_url + "/nudge", follow_redirects=True)
    assert "Reminder on its way to the 2 members who have not answered." in first.get_data(as_text=True)
    second = post_form(alice_client, page_url, {}, post_url=page_url + "/nudge", follow_redirects=True)
    assert "Nothing sent: everyone who has not answered was already reminded." in second.get_data(as_text=True)
    assert _reminders(app, "form_reminder") == ["ana@example.org", "pat@example.org"]
    run_worker(app)
    [pat] = [m for m in smtp.to("pat@example.org") if m.message["Subject"] == "Reminder: Our charter"]
    assert f"/m/forms/{pat_response}/" in _plain(pat)
    [ana] = [m for m in smtp.to("ana@example.org") if m.message["Subject"] == "Recordatorio: Our charter"]
    assert "Su formulario:" in _plain(ana)
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "form.nudge")).all()
        assert event.details == {"reminded": 2}


def test_an_archived_community_sends_no_nudge(app, personas, crowd, alice_client):
    meeting_id = _meeting(app, personas)
    page_url = f"/communities/{personas['riverside']}/meetings/{meeting_id}"
    token = csrf_from(alice_client.get(page_url).get_data(as_text=True))
    with app.app_context():
        db.session.get(Community, personas["riverside"]).archived_at = datetime.now(timezone.utc)
        db.session.commit()
    page = alice_client.get(page_url).get_data(as_text=True)
    assert "Write to those who have not answered" not in page
    refused = alice_client.post(page_url + "/nudge", data={"csrf_token": token})  # the central archived guard
    assert refused.status_code == 409
    assert "An archived community is read-only and sends no email" in refused.get_data(as_text=True)
    with app.app_context():  # and the domain refuses too, for a caller that is not a view
        with pytest.raises(DomainError, match="This community is archived"):
            nudges.nudge_meeting(None, db.session.get(meetings.Meeting, meeting_id))
    assert _reminders(app, "meeting_reminder") == []


def test_an_observer_is_refused_and_another_community_is_not_found(app, personas, crowd, client):
    meeting_id = _meeting(app, personas)
    with app.app_context():
        bob = db.session.scalar(select(Coordinator).where(Coordinator.email == "bob@example.org"))
        db.session.add(CommunityCoordinator(community_id=personas["riverside"], coordinator_id=bob.id,
                                            role="observer"))
        db.session.commit()
    login(client, "bob@example.org", PASSWORD)
    token = csrf_from(client.get("/").get_data(as_text=True))
    url = f"/communities/{personas['riverside']}/meetings/{meeting_id}/nudge"
    assert client.post(url, data={"csrf_token": token}).status_code == 403
    assert client.post(f"/communities/{personas['lakeside']}/meetings/{meeting_id}/nudge",
                       data={"csrf_token": token}).status_code == 404
    assert _reminders(app, "meeting_reminder") == []


def test_another_communitys_coordinator_gets_404(app, personas, crowd, client):
    meeting_id = _meeting(app, personas)
    login(client, "bob@example.org", PASSWORD)
    token = csrf_from(client.get("/").get_data(as_text=True))
    for url in (f"/communities/{personas['riverside']}/meetings/{meeting_id}/nudge",
                f"/communities/{personas['riverside']}/forms/1/nudge"):
        assert client.post(url, data={"csrf_token": token}).status_code == 404
    assert _reminders(app, "meeting_reminder") == []


def test_a_nudge_without_a_csrf_token_is_refused(app, personas, crowd, alice_client):
    meeting_id = _meeting(app, personas)
    url = f"/communities/{personas['riverside']}/meetings/{meeting_id}/nudge"
    assert alice_client.post(url).status_code == 400
    assert _reminders(app, "meeting_reminder") == []


def test_a_cancelled_meeting_or_a_closed_form_is_refused_and_sends_nothing(app, personas, crowd):
    meeting_id = _meeting(app, personas)
    with app.app_context():
        meeting = db.session.get(meetings.Meeting, meeting_id)
        meetings.cancel_meeting(None, meeting)
        with pytest.raises(DomainError, match="cancelled or has started"):
            nudges.nudge_meeting(None, meeting)
        form_request = form_requests.send_request(None, meeting.community, "charter", "Our charter",
                                                  [crowd["pat"]], datetime.now(timezone.utc) + timedelta(days=5))
        form_request.deadline_at = datetime.now(timezone.utc) - timedelta(minutes=1)
        with pytest.raises(DomainError, match="This form is closed"):
            nudges.nudge_form(None, form_request)
        db.session.rollback()
    assert _reminders(app, "meeting_reminder") == [] and _reminders(app, "form_reminder") == []
