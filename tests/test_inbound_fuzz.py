"""Property-based fuzzing of received mail: the reader never raises, the pipeline never loses a message.

Two kinds of input: arbitrary bytes (with and without a plausible header
block in front), and messages built from random headers, MIME trees, charsets
and transfer encodings, the kinds of mistakes real mailers make. Hypothesis
keeps the failing examples it finds in .hypothesis/ (git-ignored) and tries
them first next time.
"""
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from sqlalchemy import select

from service.addresses import make_address
from service.extensions import db
from service.inbound.message import read_message
from service.inbound.store import receive
from service.models import InboundMessage, Member, OutboundEmail
from tests.conftest import run_worker

EXAMPLES = DirectoryBasedExampleDatabase(Path(__file__).resolve().parent.parent / ".hypothesis" / "examples")
LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")
FINAL = ("done", "held", "unclear", "ignored", "failed")

HEADER_NAMES = ["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Content-Type",
                "Content-Transfer-Encoding", "Content-Disposition", "MIME-Version", "Auto-Submitted", "Precedence",
                "Return-Path", "Delivered-To", "List-Id", "X-Autoreply", "X-Failed-Recipients", "Date", "X-Odd"]
CHARSETS = ["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "koi8-r", "shift_jis", "gb2312", "utf-16",
            "x-unknown", "", "utf-8\"; broken=\"", "unicode-1-1-utf-7"]
CONTENT_TYPES = ["text/plain", "text/html", "text/calendar", "multipart/mixed", "multipart/alternative",
                 "multipart/report", "message/rfc822", "message/delivery-status", "application/octet-stream",
                 "text/rfc822-headers", "multipart/signed", "image/png", "text/x-unknown", "garbage"]
ENCODINGS = ["7bit", "8bit", "binary", "base64", "quoted-printable", "x-uuencode", "bogus", ""]

odd_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=60)
header_value = st.one_of(
    odd_text,
    st.builds(lambda word, charset, kind: f"=?{charset}?{kind}?{word}?=", st.text(max_size=20),
              st.sampled_from(CHARSETS), st.sampled_from(["Q", "B", "X", "q"])),
    st.sampled_from(["<>", "ana@example.org", "(((((a@b.c", "\"unterminated <x@y", "auto-replied", "bulk",
                     "<a@b> <c@d>", "=?utf-8?B?!!!?=", "multipart/mixed; boundary=", "text/plain; charset=x-unknown",
                     "\u2028Bcc: evil@example.net", "no"]))
header_lines = st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_value), max_size=12)
body_bytes = st.one_of(st.binary(max_size=400), odd_text.map(lambda text: text.encode("utf-8")),
                       st.sampled_from([b"Yes, I'll be there.", b"=ZZ=\n=", b"!!!==", b"<script>alert(1)</script>",
                                        b"BEGIN:VCALENDAR\nMETHOD:REPLY\nEND:VCALENDAR", b"\x00\xff\xfe"]))


@st.composite
def mime_part(draw, depth: int = 0) -> bytes:
    """One MIME entity (headers and body), maybe multipart with children, maybe lying about itself."""
    content_type = draw(st.sampled_from(CONTENT_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from(ENCODINGS))
    boundary = draw(st.sampled_from(["b1", "b2", "", "=_x", "b1 b2", "--"]))
    head = f"Content-Type: {content_type}; charset=\"{charset}\"; boundary=\"{boundary}\"\r\n"
    if encoding:
        head += f"Content-Transfer-Encoding: {encoding}\r\n"
    if draw(st.booleans()):
        head += f"Content-Disposition: {draw(st.sampled_from(['attachment', 'inline', 'attachment; filename=a.ics', '']))}\r\n"
    if content_type.startswith("multipart/") and depth < 4:
        children = draw(st.lists(mime_part(depth + 1), max_size=3))
        closing = draw(st.booleans())
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + child + b"\r\n" for child in children)
        body += (b"--" + boundary.encode() + b"--\r\n") if closing else b""
    else:
        body = draw(body_bytes)
    return head.encode("utf-8", "surrogatepass") + b"\r\n" + body


@st.composite
def structured_message(draw) -> bytes:
    lines = "".join(f"{name}: {value}\r\n" for name, value in draw(header_lines))
    return lines.encode("utf-8", "surrogatepass") + draw(mime_part())


mail_like = st.one_of(st.binary(max_size=2000), structured_message(),
                      st.tuples(header_lines, st.binary(max_size=300)).map(
                          lambda pair: "".join(f"{n}: {v}\n" for n, v in pair[0]).encode("utf-8", "surrogatepass")
                          + b"\n" + pair[1]))


def _well_formed_result(incoming) -> None:
    for field in (incoming.subject, incoming.from_name):
        assert not any(mark in field for mark in LINE_BREAKS) and "\x00" not in field
    assert "\x00" not in incoming.text and len(incoming.subject) <= 255
    assert all(reference.startswith("<") and reference.endswith(">") for reference in incoming.references)


@settings(max_examples=300, deadline=None, database=EXAMPLES,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mail_like)
def test_the_reader_never_raises_and_gives_one_line_subjects(ctx, raw):
    incoming = read_message(raw)
    _well_formed_result(incoming)


@pytest.fixture
def addresses(app, ctx, personas):
    """The addresses a message may arrive at: unsubscribe, VERP bounce, tampered; reply once replies are read."""
    from service import mailer
    from service.models import Community
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    mailer.queue_email("welcome", ana, "welcome:fuzz", community=db.session.get(Community, personas["riverside"]))
    db.session.commit()
    from service.queue import get_queue
    get_queue().empty()
    row = db.session.scalar(select(OutboundEmail))
    found = {"unsubscribe": make_address("unsubscribe", ana.id), "bounce": make_address("bounce", row.id),
             "tampered": make_address("unsubscribe", ana.id).replace("+", "+9"), "nobody": ""}
    try:
        import service.inbound.replies  # noqa: F401  (lands on another branch)
        found["reply"] = make_address("reply", ana.id, personas["riverside"])
    except ImportError:
        pass
    return found


@settings(max_examples=40, deadline=None, database=EXAMPLES,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=mail_like, data=st.data())
def test_the_pipeline_keeps_every_message_and_finishes_each_one(app, addresses, raw, data):
    """Stored byte for byte; after the job, never left 'received' and never 'failed' on the routes we read."""
    kind = data.draw(st.sampled_from(sorted(addresses)), label="address")
    raw = f"Message-ID: <fuzz-{uuid.uuid4().hex}@test.example>\r\n".encode() + raw
    row, new = receive(raw, addresses[kind], "test")
    assert new
    row_id = row.id
    run_worker(app)
    db.session.expire_all()
    stored = db.session.get(InboundMessage, row_id)
    assert stored.raw == raw and stored.size == len(raw)
    assert stored.status in FINAL and stored.processed_at is not None
    assert stored.status != "failed", stored.reason
    assert "\x00" not in stored.subject + stored.from_address + (stored.text or "")
