"""One message at a time over one connection: the bytes as written, refusals as sendmail raises them."""
import smtplib

import pytest

from service.smtp_send import send_message, smtp_path

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
