"""The SMTP side of delivery: a batch's connection, and one message at a time over it.

smtplib.SMTP.sendmail would do, but it parses both addresses again and
always copies the message to dot-stuff it; `send_message` does what sendmail
does for one recipient (the same exceptions, resets and hang-ups) without
that work. Messages go one after another: delivery commits each outcome
before it sends the next message, so a crash leaves at most one message
accepted by the server and not recorded.

Pipelining (the next message's round trips while the last outcome commits,
its final dot held until then; 76f969f) was restored on this loop and
measured against it: 6 alternating runs each of bench/fanout.py at 1,000
members on 2 busy cores gave the outbox a median of 436 msg/s (ratio 0.46)
against 465 msg/s (0.49) sequential, within the runs' spread (319-698). It
gained nothing measurable here, so it stays out.
"""
import re
import smtplib
from collections.abc import Callable
from socket import IPPROTO_TCP, TCP_NODELAY

from flask import current_app

_LEADING_DOT = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


def send_message(host: smtplib.SMTP, envelope_from: str, recipient: str, raw: bytes,
                 while_waiting: Callable[[], None] | None = None) -> None:
    """Send `raw` (CRLF lines) to one recipient.

    `while_waiting` runs once the message is sent, before the server's answer
    to it is read: the server takes a while over a message's data, and the
    caller's own work can use that time. It must not raise.

    Raises what sendmail raises: SMTPSenderRefused, SMTPRecipientsRefused,
    SMTPDataError, or a connection error.
    """
    host.ehlo_or_helo_if_needed()
    size = f" size={len(raw)}" if host.does_esmtp and host.has_extn("size") else ""
    code, response = host.docmd("mail", f"FROM:{smtp_path(envelope_from)}{size}")
    if code != 250:
        _end_transaction(host, code)
        raise smtplib.SMTPSenderRefused(code, response, envelope_from)
    code, response = host.docmd("rcpt", f"TO:{smtp_path(recipient)}")
    if code not in (250, 251):
        _end_transaction(host, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, response)})
    code, response = host.docmd("data")
    if code != 354:
        _end_transaction(host, code)
        raise smtplib.SMTPDataError(code, response)
    data = _LEADING_DOT.sub(b"..", raw) if raw.startswith(b".") or b"\n." in raw else raw
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    host.send(data + b".\r\n")
    if while_waiting is not None:
        while_waiting()
    code, response = host.getreply()
    if code != 250:
        _end_transaction(host, code)
        raise smtplib.SMTPDataError(code, response)


def smtp_path(address: str) -> str:
    """`<address>` for MAIL FROM and RCPT TO, as smtplib.quoteaddr writes it.

    quoteaddr parses every address (about 30 us each); a plain one (all our
    envelope senders, nearly every member) goes between the brackets as it is.
    """
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


def _end_transaction(host: smtplib.SMTP, code: int) -> None:
    """After a refusal, as sendmail does: hang up on 421 (the server is closing), else reset."""
    if code == 421:
        host.close()
        return
    try:
        host.rset()
    except smtplib.SMTPServerDisconnected:
        pass


def open_host() -> smtplib.SMTP | None:
    """A connection to the configured SMTP server, logged in; None when sending is suppressed.

    Flask-Mail's settings, but not its Connection: that one waits without
    limit to connect, greet, STARTTLS and log in. MAIL_TIMEOUT bounds each of
    these steps, and every read and write after them.
    """
    settings = current_app.extensions["mail"]
    if settings.suppress:
        return None
    timeout = current_app.config["MAIL_TIMEOUT"]
    kind = smtplib.SMTP_SSL if settings.use_ssl else smtplib.SMTP
    host = kind(settings.server, settings.port, timeout=timeout)
    try:
        # A message's last segment goes at once, not after the ACK of the one before (Nagle).
        host.sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
        if settings.use_tls:
            host.starttls()
        if settings.username and settings.password:
            host.login(settings.username, settings.password)
    except BaseException:
        host.close()
        raise
    return host


class SmtpConnection:
    """A batch's SMTP connection, opened when first needed.

    After a connection error, or a server that hung up (a 421), the next
    message opens a new one.
    """

    def __init__(self):
        self._host: smtplib.SMTP | None = None
        self._opened = False

    def __enter__(self) -> "SmtpConnection":
        return self

    def __exit__(self, *_exc) -> None:
        if self._host is not None:
            try:
                self._host.quit()
            except (smtplib.SMTPException, OSError):
                pass  # every outcome is recorded by now: a server gone at the end changes none
        self.drop()

    def get(self) -> smtplib.SMTP | None:
        """The open connection, opening one if need be; None when sending is suppressed (MAIL_SUPPRESS_SEND)."""
        if self._host is not None and self._host.sock is None:
            self.drop()  # smtplib closed it (the server said 421)
        if not self._opened:
            self._host = open_host()
            self._opened = True
        return self._host

    def drop(self) -> None:
        """Forget a failed connection: its socket closes without a QUIT."""
        if self._host is not None:
            self._host.close()
        self._host, self._opened = None, False
