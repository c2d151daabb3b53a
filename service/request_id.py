"""The request id: one token naming a web request, on its log lines and on those of the jobs it enqueued.

The proxy's X-Request-ID is kept when it is a safe token (so nginx's lines and
ours can be matched), otherwise we make one; the response echoes it. A job
carries the id in its RQ meta (service/queue.py) and the worker binds it while
the job runs, so `grep ID` finds a coordinator's click, the web lines and the
delivery it caused.
"""
import re
import uuid
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, g, has_request_context, request

HEADER = "X-Request-ID"
META_KEY = "request_id"
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")  # what nginx's $request_id and common tracers send

_job_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


def from_header(value: str | None) -> str:
    """The proxy's id if it is a safe token (8-128 letters, digits, '.', '_', ':', '-'), else a new one.

    Anything else (spaces, quotes, newlines, a megabyte) would let a client
    forge or break log lines, so it is replaced rather than cleaned.
    """
    if value and _SAFE.fullmatch(value):
        return value
    return uuid.uuid4().hex


def current() -> str | None:
    """The id of the web request being served, or of the request whose job is running; None elsewhere."""
    if has_request_context():
        return g.get("request_id")
    return _job_request_id.get()


@contextmanager
def bound(request_id: str | None):
    """Log lines (and jobs enqueued) inside the block carry `request_id`: a worker wraps each job in it."""
    token = _job_request_id.set(request_id)
    try:
        yield
    finally:
        _job_request_id.reset(token)


def register(app: Flask) -> None:
    """Give every request an id before anything logs, and echo it in the response."""
    app.before_request(_assign)
    app.after_request(_echo)


def _assign() -> None:
    g.request_id = from_header(request.headers.get(HEADER))


def _echo(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers[HEADER] = request_id
    return response
