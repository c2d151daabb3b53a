"""The coordinator's Outbox page: filters, counts, failure reasons, retries, and the message itself."""
from contextlib import contextmanager

from sqlalchemy import select

from service import announcements, members
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from tests.conftest import csrf_from, run_worker


def _riverside():
    return db.session.scalar(select(Community).where(Community.name == "Riverside COP"))


def test_outbox_lists_filters_and_counts(app, ctx, personas, smtp, alice_client):
    community = _riverside()
    members.add_member(None, community, name="Kim Doe", email="kim@example.org", welcome=True)
    announcements.send_announcement(None, community, "Agenda", "See you Tuesday.", "n-1")
    db.session.commit()
    run_worker(app)
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "kim@example.org" in page and "ana@example.org" in page
    assert "sent: 3" in page
    only_welcome = alice_client.get("/outbox/?kind=welcome").get_data(as_text=True)
    assert only_welcome.count("<td>Welcome</td>") == 1 and "<td>Announcement</td>" not in only_welcome
    assert "kim@example.org" not in alice_client.get("/outbox/?status=failed").get_data(as_text=True)


@contextmanager
def embedded_sink(app, tmp_path):
    """Mail sent meanwhile lands in the embedded mode's sink, where the Outbox page reads it."""
    from service.mailsink import start_sink
    from tests.smtp_server import free_port
    port = free_port()
    sink = start_sink(str(tmp_path / "sink"), port=port)
    state = app.extensions["mail"]
    old = state.port, state.server
    state.port, state.server = port, "127.0.0.1"
    app.config.update(MAIL_SINK_DIR=str(tmp_path / "sink"))
    try:
        yield
    finally:
        sink.stop()
        state.port, state.server = old


def test_embedded_mode_shows_the_message_text_and_html(app, ctx, personas, alice_client, tmp_path):
    """In embedded mode the coordinator reads each message as the sink received it."""
    with embedded_sink(app, tmp_path):
        members.send_welcome(_riverside(), db.session.scalar(select(Member).where(Member.email == "ana@example.org")))
        db.session.commit()
        run_worker(app)
    row = db.session.scalar(select(OutboundEmail))
    assert row.status == "sent"
    page = alice_client.get(f"/outbox/{row.id}").get_data(as_text=True)
    assert "Plain text" in page and "Ana Torres" in page and f'/outbox/{row.id}/html' in page
    html = alice_client.get(f"/outbox/{row.id}/html")
    assert html.status_code == 200 and "sandbox" in html.headers["Content-Security-Policy"]
    assert "Ana Torres" in html.get_data(as_text=True)


def test_failed_email_shows_its_reason_and_can_be_retried(app, ctx, personas, smtp, alice_client):
    smtp.scripted["ana@example.org"] = ["550 5.1.1 No such user"]
    members.send_welcome(_riverside(), db.session.scalar(select(Member).where(Member.email == "ana@example.org")))
    db.session.commit()
    run_worker(app)
    row = db.session.scalar(select(OutboundEmail))
    assert row.status == "failed"
    page = alice_client.get("/outbox/?status=failed").get_data(as_text=True)
    assert "550 5.1.1 No such user" in page
    # The address was fixed with the member's provider; the coordinator retries.
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    member.status, member.bounce_score = "active", 0
    from service.models import Suppression
    db.session.query(Suppression).delete()
    db.session.commit()
    detail = alice_client.get(f"/outbox/{row.id}").get_data(as_text=True)
    response = alice_client.post(f"/outbox/{row.id}/retry", data={"csrf_token": csrf_from(detail)})
    assert response.status_code == 302
    run_worker(app)
    db.session.expire_all()
    assert db.session.get(OutboundEmail, row.id).status == "sent"
    assert len(smtp.to("ana@example.org")) == 1


def test_retry_refuses_a_missing_csrf_token(app, ctx, personas, alice_client):
    assert alice_client.post("/outbox/retry").status_code == 400


def test_message_the_community_page_sends_once_even_when_submitted_twice(app, ctx, personas, smtp, alice_client):
    url = f"/communities/{personas['riverside']}/announcements/new"
    page = alice_client.get(url).get_data(as_text=True)
    import re
    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', page).group(1)
    data = {"csrf_token": csrf_from(page), "nonce": nonce, "subject": "Potluck", "body": "Bring a dish."}
    assert alice_client.post(url, data=data).status_code == 302
    assert alice_client.post(url, data=data).status_code == 302  # the double click
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 1
    empty = alice_client.post(url, data={**data, "nonce": "other", "subject": ""})
    assert empty.status_code == 400 and "Subject" in empty.get_data(as_text=True)
