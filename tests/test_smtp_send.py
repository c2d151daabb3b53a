"""One message at a time over one connection: the bytes as written, refusals as sendmail raises them, no wait
beyond MAIL_TIMEOUT, each message accepted only once the outcome before it is committed."""
import smtplib
import socket
import threading
import time

import pytest
from sqlalchemy import func, select

from service import mailer
from service.config import ConfigError, load_settings
from service.delivery import Batch
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from service.smtp_refusals import refusal
from service.smtp_send import send_message, smtp_path
from tests.conftest import run_worker

RAW = b"Subject: hello\r\nFrom: cop@example.org\r\n\r\n.a line starting with a dot\r\nbye\r\n"


@pytest.fixture
def server(smtp, app):
    connection = smtplib.SMTP("127.0.0.1", app.config["MAIL_PORT"], timeout=10)
    yield smtp, connection
    connection.close()


def test_a_message_arrives_as_written_with_its_leading_dot_intact(server):
    smtp, connection = server
    send_message(connection, "bounce@example.org", "ana@example.org", RAW)
    [received] = smtp.to("ana@example.org")
    assert received.mail_from == "bounce@example.org"
    assert received.raw.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")


def test_the_server_gets_each_message_whole_only_after_the_outcome_before_it_is_committed(app, ctx, personas, smtp,
                                                                                         monkeypatch):
    """Whatever overlaps with what (a slow database here), a worker dying at any moment leaves at most one
    message accepted by the server and not recorded."""
    finish = Batch._finish

    def slow_finish(self, *args, **values):  # a slow database: each outcome takes longer than a message
        time.sleep(0.2)
        return finish(self, *args, **values)
    monkeypatch.setattr(Batch, "_finish", slow_finish)
    engine, sent_before = db.engine, []
    original = smtp.handle_DATA

    async def handle_DATA(server, session, envelope):
        with engine.connect() as connection:  # what another process sees committed
            sent_before.append(connection.scalar(select(func.count()).select_from(OutboundEmail)
                                                 .where(OutboundEmail.status == "sent")))
        return await original(server, session, envelope)
    smtp.handle_DATA = handle_DATA
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    numbers = iter(range(6))
    mailer.queue_bulk("welcome", [member] * 6, lambda _m: f"in-order:{next(numbers)}", lambda _m: {},
                      db.session.get(Community, personas["riverside"]))
    db.session.commit()
    run_worker(app)
    assert sent_before == [0, 1, 2, 3, 4, 5]
    assert len({message.peer for message in smtp.messages}) == 1  # one job, one connection


def test_refusals_raise_as_sendmail_does_and_a_550_leaves_the_connection_usable(server):
    smtp, connection = server
    smtp.scripted["gone@example.org"] = ["550 No such user"]
    smtp.scripted["busy@example.org"] = ["421 Closing, come back later"]
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_message(connection, "bounce@example.org", "gone@example.org", RAW)
    assert refused.value.recipients["gone@example.org"][0] == 550
    send_message(connection, "bounce@example.org", "ana@example.org", RAW)
    assert len(smtp.to("ana@example.org")) == 1
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_message(connection, "bounce@example.org", "busy@example.org", RAW)
    with pytest.raises(smtplib.SMTPServerDisconnected):  # smtplib hangs up on a 421, as sendmail does
        send_message(connection, "bounce@example.org", "ana@example.org", RAW)


@pytest.mark.parametrize("address", ["ana@example.org", "bounce+12.ab3f@cop.example", "o'brien@example.ie",
                                     "first.last+tag=x@sub.example.co", '"ana maría"@example.org',
                                     "José <jose@example.org>", "luz@exämple.org", "<>", "a@b@c"])
def test_envelope_addresses_are_written_as_smtplib_writes_them(address):
    assert smtp_path(address) == smtplib.quoteaddr(address)


@pytest.fixture
def silent_server(app, request):
    """A TCP server that never answers: it does not even accept (the kernel completes the handshake), or it
    greets and then says nothing more. The app's SMTP settings point at it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted = []

    def greet():
        try:
            connection, _peer = listener.accept()
        except OSError:
            return
        accepted.append(connection)
        connection.sendall(b"220 silent.example ESMTP\r\n")

    if request.param == "greets":
        threading.Thread(target=greet, daemon=True).start()
    state = app.extensions["mail"]
    old = state.server, state.port
    state.server, state.port = "127.0.0.1", listener.getsockname()[1]
    yield
    state.server, state.port = old
    listener.close()
    for connection in accepted:
        connection.close()


@pytest.mark.parametrize("silent_server", ["never accepts", "greets"], indirect=True)
def test_a_server_that_never_answers_ends_the_job_within_mail_timeout(app, ctx, personas, silent_server,
                                                                      monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 1)
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    mailer.queue_email("welcome", member, "silent", community=db.session.scalar(select(Community)))
    db.session.commit()
    started = time.monotonic()
    run_worker(app)
    assert time.monotonic() - started < 10
    db.session.expire_all()
    row = db.session.scalar(select(OutboundEmail))
    assert row.status == "pending" and row.attempts == 1 and "timed out" in row.last_error, row.last_error


@pytest.mark.parametrize("value", ["1", "180", "240"])
def test_start_up_refuses_a_sending_timeout_not_above_the_job_timeout_and_its_margin(value):
    with pytest.raises(ConfigError, match=r"MAIL_SENDING_TIMEOUT must be above 240 seconds"):
        load_settings({"MAIL_SENDING_TIMEOUT": value})
    assert load_settings({"MAIL_SENDING_TIMEOUT": "241"})["MAIL_SENDING_TIMEOUT"] == 241


@pytest.mark.parametrize("stage, code, text, about_recipient", [
    ("rcpt", 550, "5.1.1 <ana@example.org>: Recipient address rejected: User unknown", True),
    ("rcpt", 550, "No such user here", True),  # no enhanced code: a refusal at RCPT is about the recipient
    ("rcpt", 554, "5.2.1 Mailbox disabled", True),
    ("data", 550, "5.1.1 User unknown (checked after the data)", True),
    ("rcpt", 550, "5.7.1 Relaying denied", False),
    ("rcpt", 554, "5.3.4 Message too big for system", False),
    ("rcpt", 501, "5.5.2 Syntax error", False),
    ("mail", 553, "5.1.8 Sender address rejected: Domain not found", False),  # 5.1.x at MAIL FROM: our sender
    ("mail", 553, "Sender address rejected", False),
    ("data", 554, "5.7.1 Message rejected as spam", False),
    ("data", 500, "Internal error", False),
    ("rcpt", 450, "4.1.1 Try again later", False),  # temporary: retried, never a bounce
])
def test_only_a_refusal_of_the_recipient_is_a_bounce(stage, code, text, about_recipient):
    assert refusal(stage, code, text.encode()).is_about_recipient is about_recipient


def test_a_refusal_keeps_the_servers_words_on_one_printable_line():
    refused = refusal("rcpt", 550, b"5.1.1 <ana@example.org>:\x00 no\r\n such\tuser \xff")
    assert str(refused) == "SMTP 550 5.1.1 <ana@example.org>: no such user \ufffd"
