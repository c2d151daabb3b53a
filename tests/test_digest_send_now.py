""""Send the next issue now": every active reader gets their next issue at once, a double click sends nothing
twice, and only those who run the community may do it."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from service import digest_schedule, digests, members
from service.clock import aware
from service.coordinators import create_coordinator
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, CommunityCoordinator, Coordinator, DigestIssue, Membership, OutboundEmail
from tests.conftest import PASSWORD, csrf_from, login, run_worker
from tests.test_digests import _member, _module_titles_sent, _setup

UTC = timezone.utc


def _readers_and_others(community):
    """Rosa reads weekly, Tom chose never, Ina left the community; Ana is the organization's contact."""
    for name, email in (("Rosa Diaz", "rosa@example.org"), ("Tom Reed", "tom@example.org"),
                        ("Ina Gone", "ina@example.org")):
        members.add_member(None, community, name=name, email=email, organization="Northside", welcome=False)
    db.session.flush()
    _member("tom@example.org").digest_frequency = "never"
    db.session.scalar(select(Membership).where(Membership.member_id == _member("ina@example.org").id)).status = \
        "inactive"
    ana = db.session.scalar(select(Membership).where(Membership.member_id == _member().id))
    ana.organization.contact_member_id = ana.member_id
    db.session.commit()


def _digest_recipients(kind="digest"):
    return sorted(db.session.scalars(select(OutboundEmail.recipient).where(OutboundEmail.kind == kind)))


def test_send_now_reaches_every_active_reader_whatever_their_interval_and_advances_the_drip(app, ctx, personas,
                                                                                           smtp):
    community = _setup(enabled_at=datetime.now(UTC) - timedelta(days=30))
    _readers_and_others(community)
    slot = digest_schedule.latest_slot(community, datetime.now(UTC))
    digests.tick(slot + timedelta(minutes=1))  # the regular issue: a weekly reader is not due for a week now
    assert _digest_recipients() == ["ana@example.org", "rosa@example.org"]
    assert digests.tick(slot + timedelta(hours=1)) == {}
    alice = db.session.get(Coordinator, personas["alice"])
    moment = slot + timedelta(hours=2)
    issue, queued = digests.send_issue_now(alice, community, moment)
    db.session.commit()
    assert issue.number == 2 and aware(issue.slot_at) == moment and queued == 3  # Ana, Rosa, and Casa Verde's edition
    assert _module_titles_sent("ana@example.org") == ["Module 1", "Module 2"]
    assert _module_titles_sent("rosa@example.org") == ["Module 1", "Module 2"]
    assert _module_titles_sent("tom@example.org") == [] and _module_titles_sent("ina@example.org") == []
    assert _digest_recipients("digest_organization") == ["ana@example.org", "ana@example.org"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "digest.send_now"))
    assert event.actor == "alice@example.org" and event.details == {"issue": 2, "queued": 3}
    run_worker(app)
    subjects = [m.message["Subject"] for m in smtp.to("rosa@example.org")]
    assert len(subjects) == 2
    # The regular schedule goes on: next week's slot is issue 3, and the readers are due again by then.
    digests.tick(slot + timedelta(days=7, minutes=1))
    assert _module_titles_sent("rosa@example.org") == ["Module 1", "Module 2", "Module 3"]


def test_a_second_send_now_within_the_window_is_refused_and_queues_nothing(app, ctx, personas):
    community = _setup(enabled_at=datetime.now(UTC) - timedelta(days=30))
    alice = db.session.get(Coordinator, personas["alice"])
    moment = datetime.now(UTC)
    digests.send_issue_now(alice, community, moment)
    db.session.commit()
    rows = db.session.query(OutboundEmail).count()
    with pytest.raises(DomainError, match="less than 2 minutes ago"):
        digests.send_issue_now(alice, community, moment + timedelta(seconds=90))
    db.session.rollback()
    assert db.session.query(OutboundEmail).count() == rows
    assert db.session.query(DigestIssue).count() == 1
    issue, _queued = digests.send_issue_now(alice, community, moment + digests.SEND_NOW_WINDOW)
    db.session.commit()
    assert issue.number == 2 and _module_titles_sent("ana@example.org") == ["Module 1", "Module 2"]


def test_send_now_is_refused_while_digests_are_off(app, ctx, personas):
    community = _setup()
    community.digest_enabled = False
    db.session.commit()
    with pytest.raises(DomainError, match="Turn digests on"):
        digests.send_issue_now(None, community)


def test_the_coordinator_sends_now_from_the_digest_page_and_a_double_click_is_refused(app, ctx, personas,
                                                                                      alice_client):
    community = _setup(enabled_at=datetime.now(UTC) - timedelta(days=30))
    url = f"/communities/{community.id}/digest/"
    page = alice_client.get(url).get_data(as_text=True)
    assert "Send the next issue now" in page and "refused for 2 minutes after any issue" in page
    token = csrf_from(page)
    assert alice_client.post(f"{url}send-now", data={}).status_code == 400  # no CSRF token
    assert db.session.query(DigestIssue).count() == 0
    response = alice_client.post(f"{url}send-now", data={"csrf_token": token}, follow_redirects=True)
    assert "Issue 1 is on its way: 1 emails queued." in response.get_data(as_text=True)
    response = alice_client.post(f"{url}send-now", data={"csrf_token": token}, follow_redirects=True)
    assert "less than 2 minutes ago, so nothing was sent again" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(DigestIssue).count() == 1 and _module_titles_sent("ana@example.org") == ["Module 1"]


def test_an_observer_and_another_communitys_coordinator_cannot_send_now(app, personas):
    with app.app_context():  # each request below runs in its own app context, so its login stays its own
        community = _setup(enabled_at=datetime.now(UTC) - timedelta(days=30))
        olga = create_coordinator("olga@example.org", "Olga", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=community.id, coordinator_id=olga.id, role="observer"))
        db.session.commit()
        url = f"/communities/{community.id}/digest/send-now"
        db.session.remove()
    for email, expected in (("olga@example.org", 403), ("bob@example.org", 404)):
        client = app.test_client()
        assert login(client, email, PASSWORD).status_code == 302
        token = csrf_from(client.get("/").get_data(as_text=True))
        assert client.post(url, data={"csrf_token": token}).status_code == expected
    with app.app_context():
        assert db.session.query(DigestIssue).count() == 0 and db.session.query(OutboundEmail).filter(
            OutboundEmail.kind == "digest").count() == 0
