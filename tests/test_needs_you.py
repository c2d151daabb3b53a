"""What needs a coordinator: the "needs you" list on the dashboard, the summary email of it (daily, weekly or
never), and the acknowledgement a person gets for filling in the interest form."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select, text

from service import intake, needs_you
from service.coordinators import create_coordinator
from service.extensions import db
from service.models import (AuditEvent, Charter, CharterVote, Community, CommunityCoordinator, Coordinator,
                            InboundMessage, IntakeEntry, Member, Membership, OutboundEmail, Practice)
from tests.conftest import PASSWORD, csrf_from, login, run_worker


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def _member(community_id: int, email: str, status: str = "active") -> int:
    member = Member(email=email, name=email.split("@")[0].title(), language="en", status=status)
    db.session.add(member)
    db.session.flush()
    db.session.add(Membership(community_id=community_id, member_id=member.id, status="active", name=member.name,
                              language="en"))
    return member.id


@pytest.fixture
def seeded(app, personas):
    """Riverside (alice): 2 interest entries waiting, 1 practice, 1 charter change request, 3 replies needing a
    person, 1 failed email, 1 member bouncing; each beside work that no longer waits. Lakeside (bob): 1 entry."""
    riverside, lakeside = personas["riverside"], personas["lakeside"]
    with app.app_context():
        for number, status in enumerate(("pending", "pending", "declined", "accepted")):
            db.session.add(IntakeEntry(community_id=riverside, organization="Org", name=f"P{number}",
                                       email=f"p{number}@example.org", status=status))
        db.session.add(IntakeEntry(community_id=lakeside, organization="Org", name="L", email="l@example.org"))
        voter, other = _member(riverside, "v@example.org"), _member(riverside, "w@example.org")
        bouncing = _member(riverside, "bounce@example.org", status="bounced")
        for status in ("pending", "approved"):
            db.session.add(Practice(community_id=riverside, member_id=voter, title=status, what_we_did="x",
                                    status=status))
        charter = Charter(community_id=riverside, version=1, status="proposed")
        db.session.add(charter)
        db.session.flush()
        db.session.add_all([CharterVote(charter_id=charter.id, member_id=voter, decision="change", comment="c"),
                            CharterVote(charter_id=charter.id, member_id=other, decision="approve")])
        for number, status in enumerate(("held", "unclear", "failed", "processed")):
            db.session.add(InboundMessage(via="test", message_id=f"<m{number}@t>", raw=b"x", status=status,
                                          community_id=riverside))
        for number, status in enumerate(("failed", "sent")):
            db.session.add(OutboundEmail(kind="announcement", community_id=riverside, member_id=bouncing,
                                         recipient="bounce@example.org", idempotency_key=f"seed:{number}",
                                         status=status))
        db.session.commit()
    return personas


RIVERSIDE_WAITS = {"intake": 2, "practices": 1, "charter_changes": 1, "replies_waiting": 3, "failed_emails": 1,
                   "bouncing": 1}


def test_the_list_is_what_waits_in_ones_own_communities(app, seeded):
    with app.app_context():
        alice = db.session.get(Coordinator, seeded["alice"])
        [riverside] = needs_you.for_account(alice)
        assert riverside.community.name == "Riverside COP" and riverside.counts == RIVERSIDE_WAITS
        [lakeside] = needs_you.for_account(db.session.get(Coordinator, seeded["bob"]))
        assert lakeside.counts == {"intake": 1}
        # The admin holds no role in either: nothing waits for them.
        assert needs_you.for_account(db.session.get(Coordinator, seeded["carol"])) == []


def test_the_dashboard_shows_each_count_with_its_link(app, client, seeded):
    login(client, "alice@example.org", PASSWORD)
    html = client.get("/").get_data(as_text=True)
    riverside = seeded["riverside"]
    for link, label, count in (
            (f"/communities/{riverside}/intake/", "Interest form entries to review", 2),
            (f"/communities/{riverside}/practices/", "Practices waiting for approval", 1),
            (f"/communities/{riverside}/charter", "Charter change requests", 1),
            (f"/communities/{riverside}/inbox", "Replies that need a person", 3),
            (f"/outbox/?community={riverside}&amp;status=failed", "Emails that failed", 1),
            (f"/communities/{riverside}#not-receiving", "Members whose address bounces", 1)):
        assert f'<a href="{link}">{label}</a>: <strong>{count}</strong>' in html
    assert "Lakeside" not in html
    page = client.get(f"/communities/{riverside}").get_data(as_text=True)
    assert "Charter change requests</a>: <strong>1</strong>" in page and 'id="not-receiving"' in page


def test_an_observer_is_told_nothing_waits_for_them(app, client, seeded):
    with app.app_context():
        erin = create_coordinator("erin@example.org", "Erin", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=seeded["riverside"], coordinator_id=erin.id,
                                            role="observer"))
        db.session.commit()
    login(client, "erin@example.org", PASSWORD)
    assert "Nothing waits for you." in client.get("/").get_data(as_text=True)
    assert "needs-you-title" not in client.get(f"/communities/{seeded['riverside']}").get_data(as_text=True)


def test_the_overview_counts_as_the_list_does(app, seeded):
    from service import health_overview
    with app.app_context():
        [glance] = health_overview.overview([db.session.get(Community, seeded["riverside"])])
        assert (glance.failed_emails, glance.replies_waiting, glance.bouncing) == (1, 3, 1)


# Each change to what waits, as SQL on the tables (no code path is trusted to say so), and the counts after it.
CHANGES = {
    "an email failed": ("UPDATE outbound_email SET status = 'failed' WHERE status = 'sent'", {"failed_emails": 2}),
    "a failed email sent again": ("UPDATE outbound_email SET status = 'pending' WHERE status = 'failed'",
                                  {"failed_emails": 0}),
    "a member's address bounced": ("UPDATE member SET status = 'bounced' WHERE email = 'v@example.org'",
                                   {"bouncing": 2}),
    "a bounce lifted": ("UPDATE member SET status = 'active' WHERE status = 'bounced'", {"bouncing": 0}),
    "an entry reviewed": ("UPDATE intake_entry SET status = 'accepted' WHERE name = 'P0'", {"intake": 1}),
    "a practice approved": ("UPDATE practice SET status = 'approved'", {"practices": 0}),
    "a vote changed": ("UPDATE charter_vote SET decision = 'approve'", {"charter_changes": 0}),
    "a reply dealt with": ("UPDATE inbound_message SET status = 'processed' WHERE status = 'held'",
                           {"replies_waiting": 2}),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_dashboard_shows_each_change_at_once(app, client, seeded, change):
    login(client, "alice@example.org", PASSWORD)
    assert "Charter change requests</a>: <strong>1</strong>" in client.get("/").get_data(as_text=True)  # counted
    statement, changed = CHANGES[change]
    with app.app_context():
        db.session.execute(text(statement))
        db.session.commit()
        alice = db.session.get(Coordinator, seeded["alice"])
        [riverside] = needs_you.for_account(alice)
        expected = {kind: number for kind, number in {**RIVERSIDE_WAITS, **changed}.items() if number}
        assert riverside.counts == expected
    html = client.get("/").get_data(as_text=True)
    for kind, number in changed.items():
        label = {name: str(label) for name, label, *_rest in needs_you.KINDS}[kind]
        assert (f"{label}</a>: <strong>{number}</strong>" in html) == bool(number), kind


def _summaries(app) -> list[OutboundEmail]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboundEmail).where(OutboundEmail.kind == "needs_summary")
                                       .order_by(OutboundEmail.id)))
        db.session.expunge_all()
        return rows


def test_the_daily_summary_lists_exactly_what_waits_once_a_day(app, seeded, smtp):
    with app.app_context():
        assert needs_you.queue_due(at("2026-11-30 07:59")) == 0           # before 8:00 UTC
        assert needs_you.queue_due(at("2026-11-30 08:00")) == 2           # alice and bob
        assert needs_you.queue_due(at("2026-11-30 20:00")) == 0           # once a day
    run_worker(app)
    received = {message.message["To"]: message.message for message in smtp.messages}
    assert sorted(received) == ["Alice <alice@example.org>", "Bob <bob@example.org>"]
    message = received["Alice <alice@example.org>"]
    assert message["Subject"] == "What needs you in Riverside COP"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    riverside = seeded["riverside"]
    listed = [line for line in body.splitlines() if line.startswith("- ")]
    assert listed == ["- Interest form entries to review: 2", "- Practices waiting for approval: 1",
                      "- Charter change requests: 1", "- Replies that need a person: 3", "- Emails that failed: 1",
                      "- Members whose address bounces: 1"]
    assert f"http://127.0.0.1:5000/communities/{riverside}/intake/\n" in body
    assert f"/outbox/?community={riverside}&status=failed\n" in body
    assert "Lakeside" not in body and "once a day" in body
    with app.app_context():
        assert needs_you.queue_due(at("2026-12-01 09:00")) == 2           # the next day, again
    assert len(_summaries(app)) == 4


def test_no_summary_when_nothing_waits_nor_to_never(app, personas):
    with app.app_context():
        assert needs_you.queue_due(at("2026-11-30 09:00")) == 0           # nothing waits anywhere
        db.session.add(IntakeEntry(community_id=personas["riverside"], organization="O", name="N",
                                   email="n@example.org"))
        db.session.get(Coordinator, personas["alice"]).needs_summary = "never"
        db.session.commit()
        assert needs_you.queue_due(at("2026-11-30 10:00")) == 0
    assert _summaries(app) == []


def test_the_weekly_summary_goes_on_mondays_once(app, seeded):
    with app.app_context():
        db.session.get(Coordinator, seeded["alice"]).needs_summary = "weekly"
        db.session.get(Coordinator, seeded["bob"]).needs_summary = "never"
        db.session.commit()
        assert needs_you.queue_due(at("2026-12-01 09:00")) == 0           # a Tuesday
        assert needs_you.queue_due(at("2026-12-07 09:00")) == 1           # Monday
        assert needs_you.queue_due(at("2026-12-07 18:00")) == 0
        assert needs_you.queue_due(at("2026-12-14 09:00")) == 1           # the next Monday
    assert [row.recipient for row in _summaries(app)] == ["alice@example.org"] * 2


def test_a_spanish_speaking_leader_reads_the_summary_in_spanish(app, seeded, smtp):
    with app.app_context():
        dave = create_coordinator("dave@example.org", "Dave", PASSWORD)
        dave.language = "es"
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=seeded["lakeside"], coordinator_id=dave.id, role="leader"))
        db.session.commit()
        needs_you.queue_due(at("2026-11-30 09:00"))
    run_worker(app)
    [message] = [m.message for m in smtp.messages if m.message["To"].endswith("<dave@example.org>")]
    assert message["Subject"] == "Lo que le espera en Lakeside COP"
    body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "- Respuestas al formulario de interés por revisar: 1" in body


def test_the_account_page_chooses_the_frequency(app, client, personas):
    login(client, "alice@example.org", PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert '<input checked id="frequency-0" name="frequency" type="radio" value="daily">' in page
    refused = client.post("/account", data={"csrf_token": csrf_from(page), "frequency": "hourly"})
    assert refused.status_code == 400 and "Not a valid choice" in refused.get_data(as_text=True)
    assert client.post("/account", data={"frequency": "weekly"}).status_code == 400     # no CSRF token
    response = client.post("/account", data={"csrf_token": csrf_from(page), "frequency": "weekly"})
    assert response.status_code == 302
    assert ('<input checked id="frequency-1" name="frequency" type="radio" value="weekly">'
            in client.get("/account").get_data(as_text=True))
    with app.app_context():
        assert db.session.get(Coordinator, personas["alice"]).needs_summary == "weekly"
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "account.needs_summary"))
        assert event is not None and event.coordinator_id == personas["alice"]


def test_the_person_who_fills_the_interest_form_is_acknowledged_once(app, personas, smtp):
    with app.test_request_context():
        riverside = db.session.get(Community, personas["riverside"])
        fields = {"name": "Rosa Díaz", "email": "rosa@example.org", "organization": "Casa Verde", "language": "es"}
        intake.submit(riverside, **fields)
        db.session.commit()
        intake.submit(riverside, **{**fields, "hopes": "More"})   # the same pending entry, updated
        db.session.commit()
    run_worker(app)
    [message] = smtp.to("rosa@example.org")
    assert message.message["Subject"] == "Recibimos su interés en Riverside COP"
    body = message.message.get_body(("plain",)).get_content()
    assert "Hola, Rosa Díaz" in body and "Riverside COP" in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail)
                                 .where(OutboundEmail.kind == "intake_received")) == 1

