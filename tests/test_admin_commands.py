"""An administrator's commands: list, disable and enable coordinators, email a password reset link, let mail
reach a bounced address again, sweep every kind of scheduled work by hand, and no demo data in production."""
import re
import time
from datetime import timedelta

from itsdangerous.timed import TimestampSigner
from sqlalchemy import select

from service import bounces, clock
from service.extensions import db
from service.models import AuditEvent, Coordinator, Member, OutboundEmail, Suppression
from service.password_reset import reset_url
from tests.conftest import PASSWORD, csrf_from, login, post_form, run_worker

NEW_PASSWORD = "a brand new passphrase"


def flask(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def coordinator(email: str) -> Coordinator:
    db.session.expire_all()
    return db.session.scalar(select(Coordinator).where(Coordinator.email == email))


def reset_path(app, email: str) -> str:
    """The path of a freshly signed reset link (made in an app context of its own: requests get theirs)."""
    with app.app_context():
        return reset_url(coordinator(email)).split("127.0.0.1:5000", 1)[1]


def audited(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


# --- users list / disable / enable ------------------------------------------------------------------------

def test_users_list_shows_each_account_its_role_state_and_communities(app, ctx, personas):
    flask(app, "users", "disable", "bob@example.org")
    result = flask(app, "users", "list")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "alice@example.org  Alice", "    communities: Riverside COP",
        "bob@example.org  Bob  [DISABLED]", "    communities: Lakeside COP",
        "carol@example.org  Carol  [admin]", "    communities: none"]


def test_a_disabled_coordinator_is_logged_out_and_told_why_they_cannot_log_in(app, personas, client):
    assert login(client, "bob@example.org", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200

    result = flask(app, "users", "disable", "BOB@example.org")
    assert result.exit_code == 0
    assert "Disabled bob@example.org; their open sessions have ended." in result.output

    assert client.get("/").status_code == 302  # the session that was open ends at once
    refused = login(client, "bob@example.org", PASSWORD)
    assert refused.status_code == 400
    assert "This account is disabled. Ask an administrator to enable it again." in refused.get_data(as_text=True)
    wrong = login(app.test_client(), "bob@example.org", "not the password").get_data(as_text=True)
    assert "disabled" not in wrong  # only someone with the password learns it
    assert "That email and password do not match an account." in wrong
    with app.app_context():
        [event] = audited("coordinator.disabled")
        assert event.object_id == personas["bob"] and event.actor == "system"
        assert db.session.get(Coordinator, personas["bob"]).active is False

    assert "was already disabled" in flask(app, "users", "disable", "bob@example.org").output
    assert flask(app, "users", "enable", "bob@example.org").output.strip() == "Enabled bob@example.org."
    assert login(app.test_client(), "bob@example.org", PASSWORD).status_code == 302
    assert flask(app, "users", "enable", "bob@example.org").output.strip() == "bob@example.org is not disabled."


def test_an_unknown_address_is_a_clear_error(app, ctx, personas):
    for command in ("disable", "enable", "reset-password"):
        result = flask(app, "users", command, "nobody@example.org")
        assert result.exit_code == 1
        assert "No coordinator has the address nobody@example.org." in result.output


# --- reset-password ---------------------------------------------------------------------------------------

def _reset_link(app, smtp, address: str) -> str:
    result = flask(app, "users", "reset-password", address)
    assert result.exit_code == 0, result.output
    run_worker(app)
    [received] = smtp.to(address)
    text = received.message.get_body(("plain",)).get_content()
    return re.search(r"http\S+/password/\S+", text).group(0)


def test_reset_password_emails_a_link_that_sets_a_new_password_once(app, personas, smtp):
    other_browser = app.test_client()
    assert login(other_browser, "alice@example.org", PASSWORD).status_code == 302

    link = _reset_link(app, smtp, "alice@example.org")
    [received] = smtp.to("alice@example.org")
    message = received.message
    assert message["Subject"] == "Set a new password for your coordinator account"
    assert message["Auto-Submitted"] == "auto-generated" and message["List-Unsubscribe"] is None
    text = message.get_body(("plain",)).get_content()
    assert text.startswith("Hello Alice,") and "The link works once, for the next 24 hours." in text
    with app.app_context():
        row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.kind == "password_reset"))
        assert (row.status, row.context) == ("sent", {"coordinator_id": personas["alice"]})  # no link kept

    path = link.split("127.0.0.1:5000", 1)[1]
    client = app.test_client()
    page = client.get(path)
    assert page.status_code == 200 and "alice@example.org" in page.get_data(as_text=True)
    response = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.location.endswith("/login")
    assert "Your new password is set. Log in with it." in client.get("/login").get_data(as_text=True)

    assert login(app.test_client(), "alice@example.org", PASSWORD).status_code == 400
    assert login(app.test_client(), "alice@example.org", NEW_PASSWORD).status_code == 302
    assert other_browser.get("/").status_code == 302  # sessions opened with the old password ended

    again = client.get(path)
    assert again.status_code == 410
    assert "This link was already used" in again.get_data(as_text=True)
    with app.app_context():
        assert [e.actor for e in audited("coordinator.password_reset")] == ["alice@example.org"]


def test_a_bad_new_password_is_explained_and_changes_nothing(app, personas):
    path = reset_path(app, "alice@example.org")
    client = app.test_client()
    differ = post_form(client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "!"})
    assert differ.status_code == 400 and "The two passwords differ." in differ.get_data(as_text=True)
    short = post_form(client, path, {"password": "short", "confirm": "short"})
    assert short.status_code == 400
    assert "The password must have at least 10 characters." in short.get_data(as_text=True)
    no_csrf = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert no_csrf.status_code == 400
    assert login(app.test_client(), "alice@example.org", PASSWORD).status_code == 302  # unchanged
    assert client.get(path).status_code == 200  # and the link still works


def test_an_expired_link_is_explained(app, personas, monkeypatch):
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 25 * 3600)
    path = reset_path(app, "alice@example.org")
    monkeypatch.undo()
    page = app.test_client().get(path)
    assert page.status_code == 410
    assert "This link has expired" in page.get_data(as_text=True)


def test_a_tampered_link_is_not_found(app, personas):
    path = reset_path(app, "alice@example.org")
    page = app.test_client().get(path[:-3] + "abc")
    assert page.status_code == 404 and "This link does not work" in page.get_data(as_text=True)


def test_a_link_for_an_account_disabled_since_does_not_work(app, personas):
    path = reset_path(app, "alice@example.org")
    flask(app, "users", "disable", "alice@example.org")
    page = app.test_client().get(path)
    assert page.status_code == 403 and "This account is disabled" in page.get_data(as_text=True)
    result = flask(app, "users", "reset-password", "alice@example.org")
    assert result.exit_code == 1 and "alice@example.org is disabled; enable the account first." in result.output


def test_the_reset_page_is_rate_limited(app, personas):
    path = reset_path(app, "alice@example.org")
    client = app.test_client()
    token = csrf_from(client.get(path).get_data(as_text=True))
    codes = [client.post(path, data={"csrf_token": token, "password": "x", "confirm": "y"}).status_code
             for _ in range(6)]
    assert codes == [400] * 5 + [429]


# --- members unsuppress -----------------------------------------------------------------------------------

def _member(email: str) -> Member:
    db.session.expire_all()
    return db.session.scalar(select(Member).where(Member.email == email))


def test_unsuppress_lets_mail_reach_a_bounced_member_again_and_is_audited(app, ctx, personas):
    ana = _member("ana@example.org")
    bounces.record_bounce(ana, "hard", "550 5.1.1 no such user")
    db.session.commit()
    assert _member("ana@example.org").status == "bounced"

    result = flask(app, "members", "unsuppress", "Ana@Example.org")
    assert result.exit_code == 0 and result.output.strip() == "Mail will reach ana@example.org again."
    ana = _member("ana@example.org")
    assert (ana.status, ana.bounce_score) == ("active", 0.0)
    assert db.session.scalars(select(Suppression)).all() == []
    [event] = audited("member.bounce_lifted")
    assert (event.actor, event.details) == ("system", {"address": "ana@example.org", "via": "command line"})


def test_unsuppress_refuses_an_unsubscribe_the_members_own_choice(app, ctx, personas):
    from service.preferences import unsubscribe
    unsubscribe(_member("ana@example.org"), via="link")
    db.session.commit()
    result = flask(app, "members", "unsuppress", "ana@example.org")
    assert result.exit_code == 1
    assert "that is the member's own choice" in result.output
    assert _member("ana@example.org").status == "unsubscribed"
    assert [s.reason for s in db.session.scalars(select(Suppression))] == ["unsubscribed"]


def test_unsuppress_of_an_address_that_is_not_suppressed_says_so(app, ctx, personas):
    result = flask(app, "members", "unsuppress", "ben@example.org")
    assert result.exit_code == 1 and "ben@example.org is not suppressed" in result.output
    assert flask(app, "members", "unsuppress", "not an address").exit_code == 1


# --- mail sweep, demo seed --------------------------------------------------------------------------------

def test_mail_sweep_prints_a_readable_summary_of_every_kind_of_work(app, ctx, personas):
    stale = clock.now() - timedelta(seconds=app.config["MAIL_SENDING_TIMEOUT"] + 60)
    db.session.add(OutboundEmail(kind="announcement", recipient="ana@example.org", idempotency_key="stuck",
                                 status="sending", attempts=1, context={}, updated_at=stale))
    db.session.commit()
    result = flask(app, "mail", "sweep")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "Emails: 1 queued again, of which 1 taken back from a worker that stopped while sending; "
        "0 given up after too many attempts.",
        "Meeting reminders: 0 overdue sent now, 0 scheduled again; feedback requests: 0 sent.",
        "Form reminders: 0 overdue sent now, 0 scheduled again.",
        "Charter voting reminders: 0 sent now.",
        "Scheduled announcements: 0 sent now.",
        "Received mail: 0 message(s) queued for processing again, 0 given up.",
        "Lesson digests: 0 email(s) queued for the issues due now.",
        "Conversations digests: 0 email(s) queued to members on the digest.",
        "Monthly health summaries: 0 email(s) queued to coordinators and leaders."]
    assert db.session.scalar(select(OutboundEmail.status).where(OutboundEmail.idempotency_key == "stuck")) \
        == "pending"


def test_demo_seed_refuses_in_production(app, ctx, monkeypatch):
    monkeypatch.setitem(app.config, "APP_ENV", "production")
    result = flask(app, "demo", "seed")
    assert result.exit_code == 1
    assert "The demo data is not for production" in result.output
    assert db.session.scalars(select(Coordinator)).all() == []


def test_the_reset_email_shows_on_an_admins_outbox_only_and_holds_no_link(app, personas, smtp):
    assert flask(app, "users", "reset-password", "bob@example.org").exit_code == 0
    run_worker(app)
    with app.app_context():
        row_id = db.session.scalar(select(OutboundEmail.id).where(OutboundEmail.kind == "password_reset"))
    admin, coordinator_client = app.test_client(), app.test_client()
    assert login(admin, "carol@example.org", PASSWORD).status_code == 302
    assert login(coordinator_client, "alice@example.org", PASSWORD).status_code == 302
    listing = admin.get("/outbox/").get_data(as_text=True)
    assert "password_reset" in listing and "bob@example.org" in listing
    page = admin.get(f"/outbox/{row_id}")
    assert page.status_code == 200 and "/password/" not in page.get_data(as_text=True)
    assert "bob@example.org" not in coordinator_client.get("/outbox/").get_data(as_text=True)
    assert coordinator_client.get(f"/outbox/{row_id}").status_code == 404
