"""One message over an open smtplib connection, its final dot held until the sender says so.

smtplib.SMTP.sendmail goes from MAIL FROM to the server's 250 in one call.
Delivery wants the next message's envelope and data on the wire while the
outcome of the one before it is being committed, yet the server must not
accept the next one (the dot that ends its data) before that commit: then a
crash still leaves at most one message accepted and not recorded as sent.
`send_message` does what sendmail does for one recipient, with the same
exceptions, resets and hang-ups, and waits at its Gate before the final dot.
"""
import re
import smtplib
import threading

_LEADING_DOT = re.compile(rb"(?m)^\.")


class Gate:
    """Opened when the message may be completed; abandoned when it must not be."""

    def __init__(self):
        self._event = threading.Event()
        self._abandoned = False

    def open(self) -> None:
        self._event.set()

    def abandon(self) -> None:
        self._abandoned = True
        self._event.set()

    def is_open(self) -> bool:
        return self._event.is_set() and not self._abandoned

    def wait(self, timeout: float) -> bool:
        """True once opened; False if abandoned or still shut after `timeout` seconds."""
        return self._event.wait(timeout) and not self._abandoned


def send_message(host: smtplib.SMTP, envelope_from: str, recipient: str, raw: bytes, gate: Gate,
                 timeout: float) -> None:
    """Send `raw` (CRLF lines) to one recipient; the final dot only once `gate` opens.

    Raises what sendmail raises: SMTPSenderRefused, SMTPRecipientsRefused,
    SMTPDataError, or a connection error. A message whose gate is abandoned is
    left unfinished and the connection closed, so the server discards it.
    """
    host.ehlo_or_helo_if_needed()
    options = [f"size={len(raw)}"] if host.does_esmtp and host.has_extn("size") else []
    code, response = host.mail(envelope_from, options)
    if code != 250:
        _end_transaction(host, code)
        raise smtplib.SMTPSenderRefused(code, response, envelope_from)
    code, response = host.rcpt(recipient)
    if code not in (250, 251):
        _end_transaction(host, code)
        raise smtplib.SMTPRecipientsRefused({recipient: (code, response)})
    host.putcmd("data")
    code, response = host.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, response)
    data = _LEADING_DOT.sub(b"..", raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if gate.is_open():  # usually: the last outcome was committed during the round trips above
        host.send(data + b".\r\n")
    else:
        host.send(data)
        if not gate.wait(timeout):
            host.close()
            raise smtplib.SMTPServerDisconnected("the message was abandoned before its end")
        host.send(b".\r\n")
    code, response = host.getreply()
    if code != 250:
        _end_transaction(host, code)
        raise smtplib.SMTPDataError(code, response)


def _end_transaction(host: smtplib.SMTP, code: int) -> None:
    """After a refusal, as sendmail does: hang up on 421 (the server is closing), else reset."""
    if code == 421:
        host.close()
        return
    try:
        host.rset()
    except smtplib.SMTPServerDisconnected:
        pass
