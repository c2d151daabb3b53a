"""A message's final dot waits for its gate: the server accepts nothing before it opens, and nothing abandoned."""
import smtplib
import threading
import time

import pytest

from service.smtp_send import Gate, WireThread, send_message, smtp_path

RAW = b"Subject: hello\r\nFrom: cop@example.org\r\n\r\n.a line starting with a dot\r\nbye\r\n"


@pytest.fixture
def server(smtp, app):
    connection = smtplib.SMTP("127.0.0.1", app.config["MAIL_PORT"], timeout=10)
    yield smtp, connection
    connection.close()


def _in_thread(connection, recipient, gate):
    errors = []

    def run():
        try:
            send_message(connection, "bounce@example.org", recipient, RAW, gate, timeout=10)
        except Exception as error:  # handed to the test
            errors.append(error)
    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors


def test_the_server_accepts_a_message_only_once_its_gate_opens(server):
    smtp, connection = server
    gate = Gate()
    thread, errors = _in_thread(connection, "ana@example.org", gate)
    time.sleep(0.3)  # envelope and data are on the wire by now
    assert smtp.messages == []
    gate.open()
    thread.join(10)
    assert errors == []
    [received] = smtp.to("ana@example.org")
    assert received.raw.replace(b"\r\n", b"\n") == RAW.replace(b"\r\n", b"\n")  # the leading dot intact


def test_an_abandoned_message_is_never_accepted_and_its_connection_is_closed(server):
    smtp, connection = server
    gate = Gate()
    thread, errors = _in_thread(connection, "ana@example.org", gate)
    time.sleep(0.3)
    gate.abandon()
    thread.join(10)
    assert isinstance(errors[0], smtplib.SMTPServerDisconnected)
    time.sleep(0.3)
    assert smtp.messages == []


def test_refusals_raise_as_sendmail_does_and_a_550_leaves_the_connection_usable(server):
    smtp, connection = server
    smtp.scripted["gone@example.org"] = ["550 No such user"]
    smtp.scripted["busy@example.org"] = ["421 Closing, come back later"]
    opened = Gate()
    opened.open()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        send_message(connection, "bounce@example.org", "gone@example.org", RAW, opened, timeout=10)
    assert refused.value.recipients["gone@example.org"][0] == 550
    send_message(connection, "bounce@example.org", "ana@example.org", RAW, opened, timeout=10)
    assert len(smtp.to("ana@example.org")) == 1
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        send_message(connection, "bounce@example.org", "busy@example.org", RAW, opened, timeout=10)
    with pytest.raises(smtplib.SMTPServerDisconnected):  # smtplib hangs up on a 421, as sendmail does
        send_message(connection, "bounce@example.org", "ana@example.org", RAW, opened, timeout=10)


def test_a_gate_left_shut_times_out_and_one_abandoned_after_opening_no_longer_counts_as_open():
    shut = Gate()
    assert shut.wait(0.05) is False and not shut.is_open()
    opened = Gate()
    opened.open()
    opened.open()  # twice is harmless
    assert opened.is_open() and opened.wait(0)
    opened.abandon()
    assert not opened.is_open() and opened.wait(0) is False


def test_the_wire_thread_sends_in_order_hands_back_each_error_and_finishes_its_work_before_it_stops():
    done, gate = [], Gate()

    def send(number):
        if number == 2:
            raise smtplib.SMTPDataError(554, b"refused")
        if number == 3:
            gate.wait(10)  # still waiting when the block below ends
        done.append(number)

    with WireThread() as wire:
        first, second, third = wire.submit(send, 1), wire.submit(send, 2), wire.submit(send, 3)
        first.result()
        with pytest.raises(smtplib.SMTPDataError):
            second.result()
        threading.Timer(0.2, gate.open).start()
    assert done == [1, 3]
    third.result()


@pytest.mark.parametrize("address", ["ana@example.org", "bounce+12.ab3f@cop.example", "o'brien@example.ie",
                                     "first.last+tag=x@sub.example.co", '"ana maría"@example.org',
                                     "José <jose@example.org>", "luz@exämple.org", "<>", "a@b@c"])
def test_envelope_addresses_are_written_as_smtplib_writes_them(address):
    assert smtp_path(address) == smtplib.quoteaddr(address)
