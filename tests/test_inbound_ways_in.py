"""The ways mail reaches the pipeline besides `flask mail receive`: the SMTP receiver, the providers' webhook, IMAP
polling (against a real Dovecot), and, in embedded mode, the sink with the Outbox page's "Reply as this member".

Each stores through store.receive; the unsubscribe mailto is the end-to-end check that needs no reply parsing.
"""
import smtplib
from contextlib import contextmanager

import pytest
from imap_tools import MailMessageFlags
from sqlalchemy import select

from service import create_app, members
from service.addresses import make_address
from service.config import ConfigError, load_settings
from service.extensions import db
from service.inbound import imap_poll, smtp_receiver
from service.models import Community, ImapMailboxState, InboundMessage, Member, OutboundEmail
from tests.conftest import PASSWORD, csrf_from, login, run_worker
from tests.inbound_mail import compose
from tests.smtp_server import free_port
from tests.test_config import PRODUCTION

SECRET = "s" * 40


def _ana():
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _stored() -> list[InboundMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def _unsubscribe_message(sender="ana@example.org"):
    address = make_address("unsubscribe", _ana().id)
    return address, compose(sender, address, "unsubscribe", "This message will unsubscribe you.")


@pytest.fixture
def app_without_database(app):
    """The same settings with the database unreachable (nothing listens on that port)."""
    broken = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://cop@127.0.0.1:9/cop",
                         "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}}})
    return broken


# The SMTP receiver ------------------------------------------------------------------------------------------------

@contextmanager
def smtp_receiver_for(app):
    port = free_port()
    controller = smtp_receiver.start_receiver(app, "127.0.0.1", port)
    try:
        yield port
    finally:
        controller.stop()


def test_the_smtp_receiver_stores_a_message_before_it_says_250_and_the_member_is_unsubscribed(app, ctx, personas):
    address, raw = _unsubscribe_message()
    with smtp_receiver_for(app) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert int(client.esmtp_features["size"]) == app.config["INBOUND_MAX_BYTES"]
        client.sendmail("ana@example.org", [address], raw)
        stored = _stored()  # committed by the time the server said 250
    assert [(row.via, row.envelope_to, row.envelope_from, row.status) for row in stored] \
        == [("smtp", address, "ana@example.org", "received")]
    run_worker(app)
    db.session.expire_all()
    assert _ana().status == "unsubscribed" and _stored()[0].outcome == "unsubscribed"


def test_the_smtp_receiver_is_no_open_relay(app, ctx, personas):
    with smtp_receiver_for(app) as port, smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("spammer@example.net", ["victim@example.com"], compose("spammer@example.net",
                                                                                   "victim@example.com"))
    code, words = refused.value.recipients["victim@example.com"]
    assert code == 550 and b"Relaying denied" in words
    assert _stored() == []


def test_the_smtp_receiver_refuses_a_message_over_the_limit_and_stores_nothing(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    raw = compose("ana@example.org", address, "big", "x" * 30_000)
    app.config["INBOUND_MAX_BYTES"] = 20_000
    try:
        with smtp_receiver_for(app) as port, smtplib.SMTP("127.0.0.1", port) as client:
            assert int(client.ehlo() and client.esmtp_features["size"]) == 20_000
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:  # smtplib announces SIZE in MAIL FROM
                client.sendmail("ana@example.org", [address], raw)
    finally:
        app.config["INBOUND_MAX_BYTES"] = 10 * 1024 * 1024
    assert refused.value.smtp_code == 552
    assert _stored() == []


def test_a_message_to_two_of_our_addresses_sent_twice_is_stored_once(app, ctx, personas):
    """One row per Message-ID, for the first of its recipients that is a genuine signed address."""
    address, raw = _unsubscribe_message()
    not_signed = f"someone@{app.config['INBOUND_DOMAIN']}"
    with smtp_receiver_for(app) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("ana@example.org", [not_signed, address], raw)
        client.sendmail("ana@example.org", [address], raw)  # the sender retried after a lost 250
    assert [row.envelope_to for row in _stored()] == [address]


def test_the_smtp_receiver_answers_451_while_the_database_is_down(app_without_database):
    """The sending server keeps the message and tries again later; the plain function says the same."""
    with app_without_database.app_context():
        address = f"unsubscribe+1.abc@{app_without_database.config['INBOUND_DOMAIN']}"
        raw = compose("ana@example.org", address, "unsubscribe")
        assert smtp_receiver.deliver(raw, [address], "ana@example.org").startswith("451 ")
    with smtp_receiver_for(app_without_database) as port, smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            client.sendmail("ana@example.org", [address], raw)
    assert deferred.value.smtp_code == 451


def test_flask_mail_smtp_receiver_offers_starttls_and_serves_until_sigterm(app, ctx, personas, tmp_path):
    """The command an operator runs: a process of its own on the same database and Redis, with a certificate
    for STARTTLS (mail from the Internet arrives encrypted), stopped by SIGTERM."""
    import os
    import signal
    import socket
    import ssl
    import subprocess
    import sys
    import time
    from service.config import PROJECT_ROOT
    from tests.services import require
    require(subprocess.run(["openssl", "version"], capture_output=True).returncode == 0, "openssl")
    certificate, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=mx",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(certificate)],
                   check=True, capture_output=True)
    port = free_port()
    env = {**os.environ, "FLASK_APP": "wsgi.py", "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "REDIS_URL": app.config["REDIS_URL"], "INSTANCE_DIR": str(tmp_path), "SECRET_KEY": app.config["SECRET_KEY"]}
    process = subprocess.Popen([sys.executable, "-m", "flask", "mail", "smtp-receiver", "--port", str(port),
                                "--tls-cert", str(certificate), "--tls-key", str(key)],
                               cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()
                time.sleep(0.1)
        address, raw = _unsubscribe_message()
        with smtplib.SMTP("127.0.0.1", port) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(certificate)))
            assert client.sock.version().startswith("TLSv1")
            client.sendmail("ana@example.org", [address], raw)
        assert [(row.via, row.envelope_to) for row in _stored()] == [("smtp", address)]
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert process.returncode == 0 and "(STARTTLS offered)" in output


# The webhook ------------------------------------------------------------------------------------------------------

@pytest.fixture
def webhook(app):
    app.config["INBOUND_WEBHOOK_SECRET"] = SECRET
    yield app.test_client()
    app.config["INBOUND_WEBHOOK_SECRET"] = None


def _post(client, raw, secret=SECRET, header="Authorization", query="", content_type="message/rfc822"):
    headers = {} if secret is None else {header: f"Bearer {secret}" if header == "Authorization" else secret}
    return client.post(f"/inbound/mail{query}", data=raw, headers=headers, content_type=content_type)


def test_the_webhook_stores_the_raw_message_once_and_it_is_processed(app, ctx, personas, webhook):
    address, raw = _unsubscribe_message()
    first = _post(webhook, raw, query=f"?to={address}")
    assert first.status_code == 202 and first.json["message"] == "stored; processing queued"
    again = _post(webhook, raw, header="X-Inbound-Secret")
    assert again.status_code == 200 and again.json == {"status": "ok", "message": "already received",
                                                       "id": first.json["id"]}
    run_worker(app)
    [row] = _stored()
    assert (row.id, row.via, row.raw, row.outcome) == (first.json["id"], "webhook", raw, "unsubscribed")
    assert _ana().status == "unsubscribed"


def test_the_webhook_finds_the_recipient_in_the_headers_without_to(app, ctx, personas, webhook):
    address, raw = _unsubscribe_message()
    assert _post(webhook, raw).status_code == 202
    assert _stored()[0].envelope_to == address


@pytest.mark.parametrize("secret, header", [(None, "Authorization"), ("wrong" * 8, "Authorization"),
                                            ("wrong" * 8, "X-Inbound-Secret"), (SECRET[:-1], "Authorization")])
def test_the_webhook_refuses_a_missing_or_wrong_secret_and_stores_nothing(app, ctx, personas, webhook, secret,
                                                                          header):
    _address, raw = _unsubscribe_message()
    response = _post(webhook, raw, secret=secret, header=header)
    assert response.status_code == 401 and "secret" in response.json["message"]
    assert _stored() == [] and _ana().status == "active"


def test_a_coordinators_session_does_not_open_the_webhook(app, ctx, personas, webhook):
    """The webhook takes no CSRF token, so a cookie must count for nothing there."""
    login(webhook, "alice@example.org", PASSWORD)
    _address, raw = _unsubscribe_message()
    assert _post(webhook, raw, secret=None).status_code == 401
    assert _stored() == []


def test_repeated_wrong_secrets_are_slowed_down(app, ctx, personas, webhook):
    _address, raw = _unsubscribe_message()
    assert [_post(webhook, raw, secret="guess").status_code for _ in range(10)] == [401] * 10
    assert _post(webhook, raw, secret="guess").status_code == 429
    assert _stored() == []


def test_the_webhook_does_not_exist_without_a_secret(app, ctx, personas, client):
    _address, raw = _unsubscribe_message()
    assert _post(client, raw, secret="").status_code == 404
    assert _stored() == []


def test_the_webhook_refuses_a_message_over_the_limit_and_stores_nothing(app, ctx, personas, webhook):
    address = make_address("unsubscribe", _ana().id)
    app.config["INBOUND_MAX_BYTES"] = 20_000
    try:
        response = _post(webhook, compose("ana@example.org", address, "big", "x" * 30_000))
    finally:
        app.config["INBOUND_MAX_BYTES"] = 10 * 1024 * 1024
    assert response.status_code == 413 and "20000 bytes" in response.json["message"]
    assert _stored() == []


def test_the_webhook_takes_a_message_larger_than_a_form_may_be(app, ctx, personas, webhook):
    """MAX_CONTENT_LENGTH (8 MB) limits forms; a message may reach INBOUND_MAX_BYTES (10 MB)."""
    address = make_address("unsubscribe", _ana().id)
    raw = compose("ana@example.org", address, "photos", "x" * (9 * 1024 * 1024))
    assert _post(webhook, raw).status_code == 202
    assert _stored()[0].size == len(raw)


def test_the_webhook_explains_that_it_wants_the_raw_message_not_a_form(app, ctx, personas, webhook):
    _address, raw = _unsubscribe_message()
    response = webhook.post("/inbound/mail", data={"email": raw.decode()},
                            headers={"Authorization": f"Bearer {SECRET}"})
    assert response.status_code == 415 and "message/rfc822" in response.json["message"]
    assert _post(webhook, b"  ").status_code == 400
    assert _stored() == []


def test_the_webhook_answers_503_while_the_database_is_down(app_without_database):
    app_without_database.config["INBOUND_WEBHOOK_SECRET"] = SECRET
    address = f"unsubscribe+1.abc@{app_without_database.config['INBOUND_DOMAIN']}"
    response = _post(app_without_database.test_client(), compose("ana@example.org", address, "unsubscribe"))
    assert response.status_code == 503 and response.json["message"] == "cannot store the message now; try again later"


def test_production_refuses_a_short_webhook_secret():
    with pytest.raises(ConfigError, match="INBOUND_WEBHOOK_SECRET must be a random value of at least 32"):
        load_settings({**PRODUCTION, "INBOUND_WEBHOOK_SECRET": "short-secret"})
    assert load_settings({**PRODUCTION, "INBOUND_WEBHOOK_SECRET": SECRET})["INBOUND_WEBHOOK_SECRET"] == SECRET
    assert load_settings({"INBOUND_WEBHOOK_SECRET": "short"})["INBOUND_WEBHOOK_SECRET"] == "short"  # development


# IMAP polling against Dovecot -------------------------------------------------------------------------------------

@pytest.fixture
def dovecot(app):
    from tests.imap_server import PASSWORD as IMAP_PASSWORD, USER, Dovecot
    with Dovecot() as server:
        settings = {"INBOUND_IMAP_HOST": "127.0.0.1", "INBOUND_IMAP_PORT": server.port, "INBOUND_IMAP_USER": USER,
                    "INBOUND_IMAP_PASSWORD": IMAP_PASSWORD, "INBOUND_IMAP_SSL": False}
        saved = {name: app.config[name] for name in settings}
        app.config.update(settings)
        try:
            yield server
        finally:
            app.config.update(saved)


def _flags(server) -> dict[str, tuple]:
    """Subject -> flags of every message in the INBOX."""
    with server.mailbox() as box:
        return {message.subject: message.flags for message in box.fetch(mark_seen=False)}


def _poll(app):
    return app.test_cli_runner().invoke(args=["mail", "poll-imap"])


def test_imap_polling_stores_new_messages_once_and_leaves_other_mail_alone(app, ctx, personas, dovecot):
    ana = _ana()
    address = make_address("unsubscribe", ana.id)
    with dovecot.mailbox() as box:
        # Forwarded by a catch-all: the mailbox's own address is the envelope, ours is in To.
        box.append(compose("ana@example.org", address, "unsubscribe", Delivered_To="cop-inbox@org.example"), "INBOX")
        box.append(compose("friend@example.net", "cop-inbox@org.example", "Lunch on Friday?"), "INBOX")
    first = _poll(app)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("1 stored, 0 already stored, 1 not for")
    [row] = _stored()
    assert (row.via, row.envelope_to, row.purpose) == ("imap", address, "unsubscribe")
    run_worker(app)
    db.session.expire_all()
    assert _ana().status == "unsubscribed"
    flags = _flags(dovecot)
    assert MailMessageFlags.SEEN in flags["unsubscribe"]
    assert MailMessageFlags.SEEN not in flags["Lunch on Friday?"]  # a person's mail stays unread for them

    assert _poll(app).output.startswith("0 stored, 0 already stored, 0 not for")
    with dovecot.mailbox() as box:
        box.append(compose("ben@example.org", make_address("unsubscribe", db.session.scalar(
            select(Member.id).where(Member.email == "ben@example.org"))), "please stop"), "INBOX")
    assert _poll(app).output.startswith("1 stored")
    assert [row.subject for row in _stored()] == ["unsubscribe", "please stop"]
    state = db.session.scalar(select(ImapMailboxState))
    assert state.last_uid == 3 and state.last_error == ""


def test_a_message_that_could_not_be_stored_is_read_again_on_the_next_pass(app, ctx, personas, dovecot,
                                                                           monkeypatch):
    from sqlalchemy.exc import OperationalError
    address = make_address("unsubscribe", _ana().id)
    with dovecot.mailbox() as box:
        for subject in ("first", "second"):
            box.append(compose("ana@example.org", address, subject), "INBOX")
    real_receive, calls = imap_poll.receive, []

    def database_gone_after_one(*args):
        calls.append(args)
        if len(calls) > 1:
            raise OperationalError("INSERT", {}, Exception("the database went away"))
        return real_receive(*args)
    monkeypatch.setattr(imap_poll, "receive", database_gone_after_one)
    result = _poll(app)
    assert result.exit_code == 75 and "stay in the mailbox" in result.output
    assert [row.subject for row in _stored()] == ["first"]
    assert MailMessageFlags.SEEN not in _flags(dovecot)["second"]
    monkeypatch.setattr(imap_poll, "receive", real_receive)
    assert _poll(app).output.startswith("1 stored")
    assert [row.subject for row in _stored()] == ["first", "second"]


def test_a_message_too_large_to_store_is_flagged_in_the_mailbox_and_skipped(app, ctx, personas, dovecot):
    address = make_address("unsubscribe", _ana().id)
    with dovecot.mailbox() as box:
        box.append(compose("ana@example.org", address, "huge", "x" * 30_000), "INBOX")
        box.append(compose("ana@example.org", address, "small"), "INBOX")
    app.config["INBOUND_MAX_BYTES"] = 20_000
    try:
        output = _poll(app).output
    finally:
        app.config["INBOUND_MAX_BYTES"] = 10 * 1024 * 1024
    assert output.startswith("1 stored, 0 already stored, 0 not for") and "1 too large" in output
    assert [row.subject for row in _stored()] == ["small"]
    flags = _flags(dovecot)
    assert MailMessageFlags.FLAGGED in flags["huge"] and MailMessageFlags.SEEN not in flags["huge"]


def test_imap_polling_can_move_stored_messages_to_a_folder(app, ctx, personas, dovecot):
    address = make_address("unsubscribe", _ana().id)
    with dovecot.mailbox() as box:
        box.folder.create("Stored by COP")
        box.append(compose("ana@example.org", address, "unsubscribe"), "INBOX")
    app.config["INBOUND_IMAP_MOVE_TO"] = "Stored by COP"
    try:
        assert _poll(app).output.startswith("1 stored")
    finally:
        app.config["INBOUND_IMAP_MOVE_TO"] = None
    assert _flags(dovecot) == {}
    with dovecot.mailbox() as box:
        box.folder.set("Stored by COP")
        assert [message.subject for message in box.fetch(mark_seen=False)] == ["unsubscribe"]


def test_a_rebuilt_folder_is_read_again_and_what_was_stored_is_not_stored_twice(app, ctx, personas, dovecot):
    """A new UIDVALIDITY means the folder's UIDs started again (a restored or recreated folder)."""
    address = make_address("unsubscribe", _ana().id)
    known = compose("ana@example.org", address, "unsubscribe")
    with dovecot.mailbox() as box:
        box.folder.create("COP")
        box.append(known, "COP")
    app.config["INBOUND_IMAP_FOLDER"] = "COP"
    try:
        assert _poll(app).output.startswith("1 stored")
        with dovecot.mailbox() as box:
            box.folder.delete("COP")
            box.folder.create("COP")
            box.append(known, "COP")
            box.append(compose("ana@example.org", address, "stop"), "COP")
        assert _poll(app).output.startswith("1 stored, 1 already stored")
    finally:
        app.config["INBOUND_IMAP_FOLDER"] = "INBOX"
    assert [row.subject for row in _stored()] == ["unsubscribe", "stop"]


def test_a_wrong_imap_password_is_reported_and_kept_for_the_coordinator(app, ctx, personas, dovecot):
    app.config["INBOUND_IMAP_PASSWORD"] = "not-the-password"
    result = _poll(app)
    assert result.exit_code == 75 and "stopped: MailboxLoginError" in result.output
    assert "MailboxLoginError" in db.session.scalar(select(ImapMailboxState.last_error))


def test_the_periodic_poll_job_runs_one_pass_at_a_time(app, ctx, personas, dovecot):
    from service.queue import get_queue, redis_connection
    address = make_address("unsubscribe", _ana().id)
    with dovecot.mailbox() as box:
        box.append(compose("ana@example.org", address, "unsubscribe"), "INBOX")
    lock = redis_connection().lock(imap_poll.LOCK_NAME, timeout=60)
    assert lock.acquire(blocking=False)
    job = get_queue().enqueue("jobs.inbound.poll_imap")
    run_worker(app)
    assert job.return_value() == "another pass is running" and _stored() == []
    lock.release()
    job = get_queue().enqueue("jobs.inbound.poll_imap")
    run_worker(app)  # the pass, then the processing it queued
    assert job.return_value().startswith("1 stored")
    db.session.expire_all()
    assert _ana().status == "unsubscribed"


def test_imap_settings_are_checked_at_start_up():
    with pytest.raises(ConfigError, match="INBOUND_IMAP_USER and INBOUND_IMAP_PASSWORD must be set"):
        load_settings({"INBOUND_IMAP_HOST": "imap.gmail.com"})
    mailbox = {"INBOUND_IMAP_HOST": "imap.example.org", "INBOUND_IMAP_USER": "cop", "INBOUND_IMAP_PASSWORD": "pw"}
    with pytest.raises(ConfigError, match="INBOUND_IMAP_SSL or INBOUND_IMAP_STARTTLS must be true in production"):
        load_settings({**PRODUCTION, **mailbox, "INBOUND_IMAP_SSL": "false"})
    with pytest.raises(ConfigError, match="set one of them"):
        load_settings({**mailbox, "INBOUND_IMAP_STARTTLS": "true"})
    settings = load_settings({**PRODUCTION, **mailbox})
    assert (settings["INBOUND_IMAP_PORT"], settings["INBOUND_IMAP_FOLDER"]) == (993, "INBOX")
    assert load_settings({**mailbox, "INBOUND_IMAP_SSL": "false"})["INBOUND_IMAP_PORT"] == 143


# The embedded sink and "Reply as this member" ---------------------------------------------------------------------

@contextmanager
def embedded_sink(app, tmp_path):
    """The embedded mode's sink, receiving for the app's INBOUND_DOMAIN, with the app's mail pointed at it."""
    from service.mailsink import start_sink
    port = free_port()
    sink = start_sink(str(tmp_path / "sink"), port=port, app=app)
    state = app.extensions["mail"]
    old = state.port, state.server, app.config["MAIL_SINK_DIR"]
    state.port, state.server = port, "127.0.0.1"
    app.config.update(MAIL_SINK_DIR=str(tmp_path / "sink"))
    try:
        yield port
    finally:
        sink.stop()
        state.port, state.server = old[:2]
        app.config["MAIL_SINK_DIR"] = old[2]


def test_the_sink_hands_mail_for_the_inbound_domain_to_the_pipeline(app, ctx, personas, tmp_path):
    import mailbox
    address, raw = _unsubscribe_message()
    with embedded_sink(app, tmp_path) as port, smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("ana@example.org", [address, "someone@example.net"], raw)
    assert [(row.via, row.envelope_to) for row in _stored()] == [("sink", address)]
    filed = mailbox.Maildir(str(tmp_path / "sink"), create=False)
    assert [message["X-Envelope-To"] for message in filed] == ["someone@example.net"]
    run_worker(app)
    db.session.expire_all()
    assert _ana().status == "unsubscribed"


def _welcome_ana(app, tmp_path) -> OutboundEmail:
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    members.send_welcome(community, _ana())
    db.session.commit()
    run_worker(app)
    row = db.session.scalar(select(OutboundEmail))
    assert row.status == "sent"
    return row


def test_a_coordinator_tries_a_reply_as_the_member_and_sees_it_received(app, ctx, personas, alice_client,
                                                                        tmp_path):
    with embedded_sink(app, tmp_path):
        welcome = _welcome_ana(app, tmp_path)
        page = alice_client.get(f"/outbox/{welcome.id}").get_data(as_text=True)
        assert "Reply as this member" in page and "No reply tried from this page yet." in page
        response = alice_client.post(f"/outbox/{welcome.id}/reply-as-member", data={
            "csrf_token": csrf_from(page), "text": "Thanks! <b>Glad</b> to be here."}, follow_redirects=True)
        assert response.status_code == 200
        assert "The reply was sent from the member&#39;s address" in response.get_data(as_text=True)
        [row] = _stored()
        reply_to = make_address("reply", _ana().id, welcome.community_id)
        assert (row.via, row.envelope_to, row.from_address, row.status) == ("sink", reply_to, "ana@example.org",
                                                                          "received")
        from service.inbound.message import read_message
        incoming = read_message(row.raw)
        assert incoming.in_reply_to == welcome.message_id and incoming.references == [welcome.message_id]
        assert incoming.text.startswith("Thanks! <b>Glad</b> to be here.") and "\n> " in incoming.text
        run_worker(app)
        db.session.expire_all()  # the test's app context is the requests' too: forget what it read before
        page = alice_client.get(f"/outbox/{welcome.id}").get_data(as_text=True)
    assert "Replies tried here" in page and row.subject in page and "waiting for the worker" not in page
    assert "<b>Glad" not in page  # whatever the pipeline shows of the member's words is escaped


def test_reply_as_member_is_refused_outside_the_coordinators_communities_and_without_csrf(app, ctx, personas,
                                                                                          client, tmp_path):
    with embedded_sink(app, tmp_path):
        welcome = _welcome_ana(app, tmp_path)
        login(client, "bob@example.org", PASSWORD)  # Lakeside's coordinator; Ana's welcome is Riverside's
        assert client.get(f"/outbox/{welcome.id}").status_code == 404
        token = csrf_from(client.get("/outbox/").get_data(as_text=True))
        assert client.post(f"/outbox/{welcome.id}/reply-as-member", data={"csrf_token": token, "text": "yes"}) \
            .status_code == 404
        client.post("/logout", data={"csrf_token": csrf_from(client.get("/").get_data(as_text=True))})
        login(client, "alice@example.org", PASSWORD)
        assert client.post(f"/outbox/{welcome.id}/reply-as-member", data={"text": "yes"}).status_code == 400
        page = client.get(f"/outbox/{welcome.id}").get_data(as_text=True)
        empty = client.post(f"/outbox/{welcome.id}/reply-as-member", data={"csrf_token": csrf_from(page),
                                                                           "text": "  "})
        assert empty.status_code == 400 and "This field is required." in empty.get_data(as_text=True)
    assert _stored() == []


def test_reply_as_member_exists_only_in_embedded_mode(app, ctx, personas, alice_client, tmp_path):
    with embedded_sink(app, tmp_path):
        welcome = _welcome_ana(app, tmp_path)
        page = alice_client.get(f"/outbox/{welcome.id}").get_data(as_text=True)
        app.config["EMBEDDED_MAIL"] = False
        try:
            assert "Reply as this member" not in alice_client.get(f"/outbox/{welcome.id}").get_data(as_text=True)
            response = alice_client.post(f"/outbox/{welcome.id}/reply-as-member",
                                         data={"csrf_token": csrf_from(page), "text": "yes"})
        finally:
            app.config["EMBEDDED_MAIL"] = True
    assert response.status_code == 404 and _stored() == []
