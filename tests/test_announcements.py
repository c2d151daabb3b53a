"""Announcements: a preview as the member reads it, a test copy to the coordinator alone, a time to send it
(sent once when due, never before; changed or cancelled until then), and aiming it at organizations, roles or
languages, with how many it reaches said before sending."""
import html as html_module
import re
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from service import announcements, clock, members, scheduled_work
from service.extensions import db
from service.models import Announcement, AuditEvent, Community, Member, Membership, Organization, OutboundEmail
from tests.conftest import PASSWORD, csrf_from, login, run_worker

CHICAGO = ZoneInfo("America/Chicago")
LINK = re.compile(r"https?://\S+")
MEMBER_LINK = re.compile(r"/m/(?!test-copy/)")  # a link acting for the member (a test copy's stand in does not)


@pytest.fixture
def crowd(app, personas):
    """Riverside: Ana (Casa Verde, Spanish, from personas), Sam (Casa Verde, leader), Pat (Río Azul, Spanish),
    Lee (Río Azul, facilitator), Ina (Casa Verde, inactive here). Member ids by first name, lower case."""
    with app.app_context():
        riverside = db.session.get(Community, personas["riverside"])
        for name, organization, language, role in (
                ("Sam Lee", "Casa Verde", "en", "leader"), ("Pat Kim", "Río Azul", "es", "member"),
                ("Lee Park", "Río Azul", "en", "facilitator"), ("Ina Cruz", "Casa Verde", "es", "member")):
            members.add_member(None, riverside, name=name, email=f"{name.split()[0].lower()}@example.org",
                               organization=organization, language=language, role=role)
        db.session.flush()
        ina = db.session.scalar(select(Membership).join(Member).where(Member.email == "ina@example.org"))
        ina.status = "inactive"
        db.session.commit()
        return {email.split("@")[0]: member_id for email, member_id in db.session.execute(
            select(Member.email, Member.id))}


def _compose_url(personas) -> str:
    return f"/communities/{personas['riverside']}/announcements/new"


def _post(client, url: str, data: dict, **kwargs):
    """Post the compose form as the page has it (its CSRF token and nonce)."""
    page = client.get(url).get_data(as_text=True)
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page)
    fields = {"csrf_token": csrf_from(page), **({"nonce": nonce.group(1)} if nonce else {}), **data}
    return client.post(url, data=fields, **kwargs)


def _organization_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Organization.id).where(Organization.name == name))


def _plain(received) -> str:
    return received.message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def _without_links(text: str) -> list[str]:
    return [LINK.sub("<link>", line) for line in text.strip().splitlines()]


def test_the_preview_is_the_email_the_member_gets_with_links_that_do_nothing(app, personas, crowd, alice_client,
                                                                             smtp):
    url = _compose_url(personas)
    message = {"subject": "Visit on Friday",
               "body": "We meet at the library.\n\nBring a friend: https://example.org/map"}
    response = _post(alice_client, url, {**message, "languages": "es", "preview": "Preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview: as Ana Torres gets it" in page  # the first Spanish speaker, in her language
    assert "This reaches 2 members." in page  # Ana and Pat; Ina is inactive here
    shown = re.search(r'<pre class="message-text">(.*?)</pre>', page, re.S).group(1)
    assert "Hola, Ana Torres:" in shown and "We meet at the library." in shown
    html_url = re.search(r'<iframe class="message-html" sandbox src="([^"]+)"', page).group(1)
    html = alice_client.get(html_url)
    assert html.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "Hola, Ana Torres:" in html.get_data(as_text=True)
    assert not MEMBER_LINK.search(html.get_data(as_text=True)) and "/m/test-copy/" in html.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(OutboundEmail.id)) is None  # previewing sent nothing

    # Sent from the same form, Ana's email reads as the preview did, but with her own links.
    page_after = alice_client.get(url)  # a fresh form would be a new message: send the previewed one
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    alice_client.post(url, data={"csrf_token": csrf_from(page_after.get_data(as_text=True)), "nonce": nonce,
                                 **message, "languages": "es", "send": "Send now"})
    run_worker(app)
    [ana] = smtp.to("ana@example.org")
    assert ana.message["Subject"] == "Visit on Friday"
    assert _without_links(_plain(ana)) == _without_links(html_module.unescape(shown))
    assert MEMBER_LINK.search(_plain(ana)) and "/test-copy/" not in _plain(ana)
    with app.app_context():
        [kept] = db.session.scalars(select(Announcement)).all()  # the preview's draft became the message
        assert (kept.status, kept.recipients) == ("sent", 2)


def test_a_test_copy_reaches_only_the_coordinator_marked_as_a_test(app, personas, crowd, alice_client, smtp):
    response = _post(alice_client, _compose_url(personas),
                     {"subject": "Draft news", "body": "Hello all", "test": "Send a test to me"}, follow_redirects=True)
    assert "A test copy, as Ana Torres gets it, is on its way to alice@example.org." in response.get_data(as_text=True)
    run_worker(app)
    [copy] = smtp.messages
    assert copy.rcpt_tos == ["alice@example.org"]
    assert copy.message["Subject"] == "[TEST] Draft news"
    assert copy.message["Reply-To"] == "alice@example.org"
    assert "/m/test-copy/" in _plain(copy) and not MEMBER_LINK.search(_plain(copy))
    with app.app_context():
        rows = db.session.execute(select(OutboundEmail.kind, OutboundEmail.recipient)).all()
        assert rows == [("announcement_test", "alice@example.org")]
        assert db.session.scalar(select(AuditEvent.action).where(AuditEvent.action == "announcement.test"))


def _local_tomorrow_at(hour: int):
    day = (datetime.now(CHICAGO) + timedelta(days=1)).date()
    return day, datetime.combine(day, time(hour), tzinfo=CHICAGO)


def test_a_scheduled_announcement_goes_once_when_due_and_not_before(app, personas, crowd, alice_client, smtp,
                                                                     monkeypatch):
    url = _compose_url(personas)
    day, due = _local_tomorrow_at(9)
    response = _post(alice_client, url, {"subject": "Reminder: dues", "body": "Pay by Monday.",
                                         "send_date": day.isoformat(), "send_time": "09:00", "schedule": "Schedule"},
                     follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Your message will go on" in page and "9:00" in page and "Central Time (Chicago)" in page
    assert "Reminder: dues" in page.split("Scheduled messages")[1]
    with app.app_context():
        scheduled_work.sweep_all()  # a minute later: not due yet
        assert db.session.scalar(select(OutboundEmail.id)) is None
        [kept] = db.session.scalars(select(Announcement)).all()
        assert clock.aware(kept.send_at) == due

    monkeypatch.setattr(clock, "now", lambda: (due + timedelta(seconds=30)).astimezone(timezone.utc))
    with app.app_context():
        assert scheduled_work.sweep_all()["announcements"] == {"sent": 1}
        assert scheduled_work.sweep_all()["announcements"] == {"sent": 0}  # the next minute: nothing again
        assert announcements.send_due() == 0
        recipients = sorted(db.session.scalars(select(OutboundEmail.recipient).where(
            OutboundEmail.kind == "announcement")))
        assert recipients == ["ana@example.org", "lee@example.org", "pat@example.org", "sam@example.org"]
        assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "announcement.send"))[
            "recipients"] == 4
    monkeypatch.undo()
    run_worker(app)
    assert [m.message["Subject"] for m in smtp.to("sam@example.org")] == ["Reminder: dues"]
    assert "Reminder: dues" not in alice_client.get(url).get_data(as_text=True).split("Scheduled messages")[1]


def test_a_scheduled_announcement_can_be_changed_or_cancelled_before_it_goes(app, personas, crowd, alice_client,
                                                                           monkeypatch):
    url = _compose_url(personas)
    day, due = _local_tomorrow_at(10)
    for subject in ("First plan", "Second plan"):
        _post(alice_client, url, {"subject": subject, "body": "Text", "send_date": day.isoformat(),
                                  "send_time": "10:00", "schedule": "Schedule"})
    with app.app_context():
        first, second = db.session.scalars(select(Announcement).order_by(Announcement.id)).all()
        first_id, second_id = first.id, second.id
    edit_url = f"/communities/{personas['riverside']}/announcements/{first_id}"
    page = alice_client.get(edit_url).get_data(as_text=True)
    assert "Preview: as Ana Torres gets it" in page and "It reaches 4 members." in page
    response = alice_client.post(edit_url, data={
        "csrf_token": csrf_from(page), "subject": "First plan, changed", "body": "New text", "roles": "leader",
        "send_date": day.isoformat(), "send_time": "11:30", "schedule": "Save"}, follow_redirects=True)
    assert "It reaches 1 member." in response.get_data(as_text=True)
    cancel_page = alice_client.get(url).get_data(as_text=True)
    alice_client.post(f"/communities/{personas['riverside']}/announcements/{second_id}/cancel",
                      data={"csrf_token": csrf_from(cancel_page)})
    # A past time is refused with the reason, and the message keeps its time.
    page = alice_client.get(edit_url).get_data(as_text=True)
    refused = alice_client.post(edit_url, data={
        "csrf_token": csrf_from(page), "subject": "First plan, changed", "body": "New text",
        "send_date": "2020-01-01", "send_time": "09:00", "schedule": "Save"})
    assert refused.status_code == 400
    assert "Choose a time in the future, or send it now." in refused.get_data(as_text=True)

    monkeypatch.setattr(clock, "now", lambda: datetime.combine(day, time(11, 31), tzinfo=CHICAGO).astimezone(
        timezone.utc))
    with app.app_context():
        assert announcements.send_due() == 1
        rows = db.session.execute(select(OutboundEmail.recipient, OutboundEmail.context)).all()
        assert [(r, c["subject"]) for r, c in rows] == [("sam@example.org", "First plan, changed")]
        assert db.session.get(Announcement, second_id).status == "cancelled"
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "announcement.cancel"))
    assert alice_client.get(edit_url).status_code == 404  # gone: no longer editable


def test_targeting_reaches_exactly_the_members_the_sql_selects(app, personas, crowd, alice_client):
    casa, rio = _organization_id(app, "Casa Verde"), _organization_id(app, "Río Azul")
    url = _compose_url(personas)
    preview = _post(alice_client, url, {"subject": "For Casa Verde and Spanish speakers", "body": "Hola",
                                        "organization_ids": [str(casa)], "roles": ["member", "leader"],
                                        "preview": "Preview"})
    assert "This reaches 2 members." in preview.get_data(as_text=True)  # Ana and Sam
    _post(alice_client, url, {"subject": "For Río Azul's Spanish speakers", "body": "Hola",
                              "organization_ids": [str(rio)], "languages": ["es"], "send": "Send now"})
    with app.app_context():
        expected = sorted(db.session.scalars(select(Member.email).join(Membership).where(
            Membership.community_id == personas["riverside"], Membership.status == "active",
            Membership.organization_id == rio, Membership.language == "es")))
        sent = sorted(db.session.scalars(select(OutboundEmail.recipient)))
        assert sent == expected == ["pat@example.org"]


def test_aiming_at_what_the_community_does_not_have_is_refused_and_nothing_is_sent(app, personas, crowd,
                                                                                  alice_client):
    lake_org = _organization_id(app, "Lake Org")  # Lakeside's, not Riverside's
    response = _post(alice_client, _compose_url(personas), {"subject": "Hi", "body": "Text",
                                                             "organization_ids": [str(lake_org)], "send": "Send now"})
    assert response.status_code == 400 and "is not a valid choice" in response.get_data(as_text=True)
    response = _post(alice_client, _compose_url(personas), {"subject": "Hi", "body": "Text", "roles": ["leader"],
                                                             "languages": ["es"], "test": "Send a test to me"})
    assert response.status_code == 400
    assert "Nobody is reached by this choice" in response.get_data(as_text=True)
    response = _post(alice_client, _compose_url(personas), {"subject": "Hi", "body": "Text", "schedule": "Schedule"})
    assert response.status_code == 400 and "Choose the day and the time it goes." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(OutboundEmail.id)) is None
        assert db.session.scalar(select(Announcement.id)) is None


def test_another_communitys_coordinator_sees_none_of_it(app, personas, crowd, alice_client):
    day, _due = _local_tomorrow_at(9)
    _post(alice_client, _compose_url(personas), {"subject": "Ours", "body": "Text", "send_date": day.isoformat(),
                                                 "send_time": "09:00", "schedule": "Schedule"})
    with app.app_context():
        announcement_id = db.session.scalar(select(Announcement.id))
    bob = app.test_client()
    login(bob, "bob@example.org", PASSWORD)
    client = bob
    base = f"/communities/{personas['riverside']}/announcements/{announcement_id}"
    assert client.get(base).status_code == 404
    assert client.get(base + "/preview.html").status_code == 404
