"""The SMTP side of delivery: a batch's connection, the thread that talks over it, one message at a time.

smtplib.SMTP.sendmail goes from MAIL FROM to the server's 250 in one call.
Delivery wants the next message's envelope and data on the wire while the
outcome of the one before it is being committed, yet the server must not
accept the next one (the dot that ends its data) before that commit: then a
crash still leaves at most one message accepted and not recorded as sent.
`send_message` does what sendmail does for one recipient, with the same
exceptions, resets and hang-ups, and waits at its Gate before the final dot.
It runs in the batch's WireThread; SmtpConnection holds both for a batch.
"""
import queue
import re
import smtplib
import threading
from contextlib import ExitStack
from socket import IPPROTO_TCP, TCP_NODELAY

from flask import current_app

from service.extensions import mail

_LEADING_DOT = re.compile(rb"(?m)^\.")
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+")


class Gate:
    """Opened when the message may be completed; abandoned when it must not be.

    Opened and abandoned by the delivering thread, waited on by the wire
    thread. A plain lock held until the gate opens: threading.Event (a
    Condition, a lock per waiter) cost more than the rest of the hand-over.
    """
    __slots__ = ("_shut", "_released", "_abandoned")

    def __init__(self):
        self._shut = threading.Lock()
        self._shut.acquire()
        self._released = False
        self._abandoned = False

    def open(self) -> None:
        if not self._released:
            self._released = True
            self._shut.release()

    def abandon(self) -> None:
        self._abandoned = True  # before the release: a waiter woken by it sees the abandonment
        self.open()

    def is_open(self) -> bool:
        return self._released and not self._abandoned

    def wait(self, timeout: float) -> bool:
        """True once opened; False if abandoned or still shut after `timeout` seconds."""
        if not self._shut.acquire(timeout=timeout):
            return False
        self._shut.release()
        return not self._abandoned


class Sending:
    """A message handed to the wire thread; `result()` waits for its outcome and raises what sending raised."""
    __slots__ = ("_done", "_error")

    def __init__(self):
        self._done = threading.Lock()
        self._done.acquire()
        self._error: BaseException | None = None

    def _finish(self, error: BaseException | None) -> None:
        self._error = error
        self._done.release()

    def result(self) -> None:
        with self._done:  # (released again: a second call returns at once)
            pass
        if self._error is not None:
            raise self._error


class WireThread:
    """A thread that runs the functions handed to it one after another: a batch's SMTP conversation.

    What a one-thread ThreadPoolExecutor does, on a SimpleQueue and bare locks:
    its Futures and Conditions cost about 50 us of CPU per message.
    """

    def __init__(self, name: str = "smtp"):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, function, *args) -> Sending:
        sending = Sending()
        self._calls.put((sending, function, args))
        return sending

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            sending, function, args = call
            try:
                function(*args)
            except BaseException as error:  # handed to the thread waiting on result()
                sending._finish(error)
            else:
                sending._finish(None)

    def __enter__(self) -> "WireThread":
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Let what was handed over finish (each gate must be opened or abandoned by then), then end the thread."""
        if self._thread.is_alive():
            self._calls.put(None)
            self._thread.join()


def send_message(host: smtplib.SMTP, envelope_from: str, recipient: str, raw: bytes, gate: Gate,
                 timeout: float) -> None:
    """Send `raw` (CRLF lines) to one recipient; the final dot only once `gate` opens.

    Raises what sendmail raises: SMTPSenderRefused, SMTPRecipientsRefused,
    SMTPDataError, or a connection error. A message whose gate is abandoned is
    left unfinished and the connection closed, so the server discards it.
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
    host.putcmd("data")
    code, response = host.getreply()
    if code != 354:
        raise smtplib.SMTPDataError(code, response)
    data = _LEADING_DOT.sub(b"..", raw) if raw.startswith(b".") or b"\n." in raw else raw
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


class SmtpConnection:
    """A batch's SMTP connection (Flask-Mail's) and the thread that talks over it, opened when first needed.

    After a connection error, or a server that hung up (a 421), the next
    message opens a new one.
    """

    def __init__(self):
        self._open: tuple[ExitStack, object, WireThread] | None = None

    def __enter__(self) -> "SmtpConnection":
        return self

    def __exit__(self, *_exc) -> None:
        self._close(quit=True)

    def get(self) -> tuple[object, WireThread]:
        """(Flask-Mail connection, wire thread), opening them if need be."""
        if self._open is not None and self._open[1].host is not None and self._open[1].host.sock is None:
            self.drop()  # smtplib closed it (the server said 421)
        if self._open is None:
            with ExitStack() as stack:
                connection = stack.enter_context(mail.connect())
                if connection.host is not None:
                    socket = connection.host.sock
                    socket.settimeout(current_app.config["MAIL_TIMEOUT"])  # Flask-Mail sets none: never hang
                    # The dot that ends a message's data goes alone once its gate opens: unsent at
                    # once (Nagle's algorithm waiting for the ACK of the data), it would wait 40 ms.
                    socket.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
                wire = WireThread()
                self._open = (stack.pop_all(), connection, wire)
        return self._open[1], self._open[2]

    def drop(self) -> None:
        """Forget a failed connection: its thread finishes, its socket closes without a QUIT."""
        self._close(quit=False)

    def _close(self, quit: bool) -> None:
        if self._open is None:
            return
        stack, connection, wire = self._open
        self._open = None
        wire.stop()  # lets what it holds finish: each gate is opened or abandoned by now
        if not quit and connection.host is not None:
            connection.host.close()
            connection.host = None  # Flask-Mail's exit then sends no QUIT
        try:
            stack.close()  # Flask-Mail's exit: QUIT
        except (smtplib.SMTPException, OSError):
            pass  # every outcome is recorded by now: a server gone at the end changes none
