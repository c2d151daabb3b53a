"""Received mail that must never be answered or acted on, and mail built to break the reader.

Auto-replies (RFC 3834 and what Outlook, Gmail and Spanish-speaking offices
really send), robots, delivery reports at the wrong address, our own mail
coming back, and malformed or hostile MIME. The .eml fixtures under
tests/fixtures/inbound/odd/ were written for these tests; {{FROM}} (the
member), {{TO}} (our address) and {{IN_REPLY_TO}} (the Message-ID of the
invitation we sent) are filled in by each test.
"""
import email
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service import meetings
from service.addresses import make_address
from service.extensions import db
from service.inbound.message import read_message
from service.inbound.store import TooLarge, receive
from service.models import (BounceEvent, Community, InboundMessage, Invitation, Member, OutboundEmail,
                            Suppression)
from service.queue import get_queue
from tests.inbound_mail import compose, deliver

ODD = Path(__file__).parent / "fixtures" / "inbound" / "odd"
INVITATION_ID = "<invitation-7f3a@cop.localhost>"
LINE_BREAKS = ("\r", "\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c")


def _ana() -> Member:
    return db.session.scalar(select(Member).where(Member.email == "ana@example.org"))


def _invited(personas) -> tuple[Member, OutboundEmail, str]:
    """Ana invited to a Riverside meeting, the invitation sent as INVITATION_ID: (Ana, its outbox row, the
    reply address it carried). Nothing is left queued, so the tests' worker runs only inbound jobs."""
    community = db.session.get(Community, personas["riverside"])
    meetings.create_meeting(None, community, starts_at=datetime.now(timezone.utc) + timedelta(days=5),
                            title="Monthly call")
    db.session.commit()
    get_queue().empty()
    ana = _ana()
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.member_id == ana.id))
    row.status, row.message_id = "sent", INVITATION_ID
    db.session.commit()
    return ana, row, make_address("reply", ana.id, community.id)


def _fixture(name: str, to: str, sender: str = "ana@example.org") -> bytes:
    raw = (ODD / name).read_bytes()
    return (raw.replace(b"{{FROM}}", sender.encode()).replace(b"{{TO}}", to.encode())
            .replace(b"{{IN_REPLY_TO}}", INVITATION_ID.encode()).replace(b"\n", b"\r\n"))


def _outbox_count() -> int:
    return db.session.scalar(select(func.count(OutboundEmail.id)))


def _nothing_acted_on(ana: Member, outbox_before: int) -> None:
    """No mail queued, no RSVP, no bounce, no unsubscribe."""
    db.session.expire_all()
    assert _outbox_count() == outbox_before
    assert db.session.scalars(select(Invitation.answer)).all() == [None]
    assert db.session.scalar(select(func.count(BounceEvent.id))) == 0
    assert db.session.get(Member, ana.id).status == "active"
    assert db.session.scalar(select(func.count(Suppression.id))) == 0


# 1. Automatic replies: stored, shown, never answered, never an RSVP or a bounce ----------------------

@pytest.mark.parametrize("fixture, why", [
    ("outlook_automatic_reply_en.eml", "subject"),          # "Automatic reply:" + X-Auto-Response-Suppress
    ("gmail_vacation_en.eml", "Auto-Submitted: auto-replied"),  # Gmail's vacation responder; the text says "Yes"
    ("respuesta_automatica_es.eml", "subject"),             # Outlook in Spanish, RFC 2047 Latin-1 subject
    ("fuera_de_oficina_cuerpo_es.eml", "text"),             # only the words say so ("allí estaré" included)
    ("out_of_office_body_en.eml", "text"),                  # only the words say so ("count me in" included)
])
def test_an_auto_reply_to_an_invitation_is_ignored_and_records_nothing(app, ctx, personas, fixture, why):
    ana, _row, address = _invited(personas)
    outbox_before = _outbox_count()
    stored = deliver(app, _fixture(fixture, address), address)
    assert stored.status == "ignored" and why in stored.reason
    _nothing_acted_on(ana, outbox_before)


OUT_OF_OFFICE_TEXTS = [
    "Thank you for your email. I am currently out of the office until Monday, 9 June, with limited access to email.",
    "I'm on parental leave until March and not checking email. Please contact my colleague Sam.",
    "Thanks for your message. I am on annual leave and will be back on Monday 9 June.",
    "Me encuentro fuera de la oficina hasta el 15 de julio. Responderé a mi regreso.",
    "Actualmente no estoy en la oficina. Regreso el lunes 9 de junio.",
    "Estaré ausente hasta el 20 de agosto sin acceso al correo electrónico.",
]
ANSWERS_THAT_MENTION_BEING_AWAY = [
    "Sorry, I'll be on vacation that week, so I can't make it.",
    "I'll be away that day, count me out.",
    "I was out of the office last week, sorry for the late answer: yes, I'll be there.",
    "No puedo, estaré de vacaciones esa semana.",
    "Estoy fuera de la oficina ese día, así que no puedo ir.",
]


def _automatic(body: str, subject: str = "Re: Riverside COP: Monthly call") -> str | None:
    from service.inbound.automatic import automatic_reason
    return automatic_reason(read_message(compose("ana@example.org", "x@cop.localhost", subject, body)))


@pytest.mark.parametrize("body", OUT_OF_OFFICE_TEXTS)
def test_out_of_office_notices_are_known_by_their_words(ctx, body):
    assert "its text" in _automatic(body)


@pytest.mark.parametrize("body", ANSWERS_THAT_MENTION_BEING_AWAY)
def test_a_member_who_answers_that_they_will_be_away_is_not_an_auto_reply(ctx, body):
    """Their "no" must reach the meeting and be confirmed, not be filed as an out-of-office notice."""
    assert _automatic(body) is None


@pytest.mark.parametrize("subject", ["Re: Vacation coverage: what worked", "RE: Riverside COP: Out of office hours",
                                     "Re: Reunión: ¿quién estará ausente?"])
def test_our_own_subject_words_in_a_reply_do_not_make_it_automatic(ctx, subject):
    assert _automatic("Yes, I'll be there.", subject) is None


@pytest.mark.parametrize("headers, why", [
    ({"Auto_Submitted": "auto-generated"}, "Auto-Submitted"),
    ({"Auto_Submitted": "auto-replied; owner-email=\"ana@example.org\""}, "Auto-Submitted"),
    ({"Auto_Submitted": "auto-notified"}, "Auto-Submitted"),
    ({"Auto_Submitted": "Auto-Replied"}, "Auto-Submitted"),
    ({"Precedence": "bulk"}, "Precedence"), ({"Precedence": "junk"}, "Precedence"),
    ({"Precedence": "list"}, "Precedence"), ({"Precedence": "auto_reply"}, "Precedence"),
    ({"Precedence": " Bulk "}, "Precedence"),
    ({"X_Autoreply": "yes"}, "X-Autoreply"), ({"X_Autorespond": "Thanks for writing"}, "X-Autoreply"),
    ({"Return_Path": "<>"}, "Return-Path"),
    ({"List_Unsubscribe": "<mailto:leave@lists.example.net>"}, "mailing list"),
])
def test_rfc_3834_and_conventional_markers_mean_no_answer(app, ctx, personas, headers, why):
    """A reply that says yes, but marked as automatic: nothing recorded, nothing sent."""
    ana, _row, address = _invited(personas)
    outbox_before = _outbox_count()
    stored = deliver(app, compose("ana@example.org", address, "Re: Riverside COP: Monthly call",
                                  "Yes, I'll be there.", In_Reply_To=INVITATION_ID, **headers), address)
    assert stored.status == "ignored" and why in stored.reason
    _nothing_acted_on(ana, outbox_before)


def test_auto_submitted_no_is_a_person_and_not_ignored(app, ctx, personas):
    """`Auto-Submitted: no` is what a person's client may send: it goes on to be read (here, unsubscribe)."""
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, compose("ana@example.org", address, "unsubscribe", Auto_Submitted="no"), address)
    assert (stored.status, stored.outcome) == ("done", "unsubscribed")


def test_a_mail_clients_unsubscribe_button_message_is_not_taken_for_an_auto_reply(app, ctx, personas):
    """Gmail's List-Unsubscribe mailto says it was generated automatically; it is still the member's click."""
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, compose("ana@example.org", address, "Unsubscribe",
                                  "This message was automatically generated by Gmail."), address)
    assert (stored.status, stored.outcome) == ("done", "unsubscribed")


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.net", "postmaster@example.org",
                                    "noreply@example.org", "no-reply@calendar.example.com",
                                    "do-not-reply@example.org", "bounces+abc@lists.example.net"])
def test_robot_senders_are_never_answered(app, ctx, personas, sender):
    ana, _row, address = _invited(personas)
    outbox_before = _outbox_count()
    stored = deliver(app, compose(sender, address, "Re: Riverside COP: Monthly call", "Yes",
                                  In_Reply_To=INVITATION_ID), address)
    assert stored.status in ("ignored", "done", "held") and stored.outcome in (None, "bounce")
    _nothing_acted_on(ana, outbox_before)


def test_an_unparsed_mailer_daemon_notice_at_a_reply_address_suppresses_nobody(app, ctx, personas):
    ana, _row, address = _invited(personas)
    outbox_before = _outbox_count()
    stored = deliver(app, _fixture("mailer_daemon_plain.eml", address), address)
    assert stored.status != "failed"
    _nothing_acted_on(ana, outbox_before)


# 2. Delivery reports at a reply or unsubscribe address go to bounce processing ---------------------

@pytest.mark.parametrize("purpose", ["reply", "unsubscribe"])
def test_a_delivery_report_at_our_other_addresses_is_a_bounce_and_not_answered(app, ctx, personas, purpose):
    """Some servers report to From/Reply-To instead of the envelope sender: the returned headers name the row."""
    ana, row, reply_address = _invited(personas)
    address = reply_address if purpose == "reply" else make_address("unsubscribe", ana.id)
    outbox_before = _outbox_count()
    stored = deliver(app, _fixture("dsn_to_reply_address.eml", address), address)
    assert (stored.status, stored.outcome) == ("done", "bounce")
    db.session.expire_all()
    [event] = db.session.scalars(select(BounceEvent)).all()
    assert (event.member_id, event.outbound_email_id, event.kind) == (ana.id, row.id, "hard")
    assert "5.1.1" in event.diagnostic
    assert db.session.get(Member, ana.id).status == "bounced"  # not "unsubscribed": she did not ask to leave
    assert _outbox_count() == outbox_before


# 3. Loops: our own mail coming back ------------------------------------------------------------------

def test_our_own_invitation_forwarded_back_to_a_reply_address_is_ignored(app, ctx, personas):
    """A member's server that forwards everything to its Reply-To would start a loop: we never answer."""
    from service.email_render import render, to_bytes
    ana, row, address = _invited(personas)
    community = db.session.get(Community, personas["riverside"])
    raw = to_bytes(render(row, ana, community), "<bounced-back-1@cop.localhost>")
    outbox_before = _outbox_count()
    stored = deliver(app, raw, address)
    assert stored.status == "ignored"
    _nothing_acted_on(ana, outbox_before)


def test_mail_from_another_of_our_addresses_is_a_loop(app, ctx, personas):
    ana, _row, address = _invited(personas)
    ours = make_address("reply", ana.id, personas["lakeside"])
    outbox_before = _outbox_count()
    stored = deliver(app, compose(f"Riverside COP <{ours}>", address, "Re: Monthly call", "Yes"), address)
    assert stored.status == "ignored" and "loop" in stored.reason
    _nothing_acted_on(ana, outbox_before)


# 4. Limits ------------------------------------------------------------------------------------------

def test_a_message_over_the_size_limit_is_refused_and_one_at_the_limit_kept(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    app.config["INBOUND_MAX_BYTES"] = 50_000
    try:
        big = compose("ana@example.org", address, "unsubscribe", "x" * 60_000)
        with pytest.raises(TooLarge):
            receive(big, address, "mta")
        assert db.session.scalar(select(func.count(InboundMessage.id))) == 0
        head = compose("ana@example.org", address, "unsubscribe", "")
        exact = head + b"y" * (50_000 - len(head))
        row, new = receive(exact, address, "mta")
        assert new and row.size == 50_000 and row.raw == exact
    finally:
        app.config["INBOUND_MAX_BYTES"] = 10 * 1024 * 1024


def _many_parts(count: int) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["Subject"] = "ana@example.org", "Re: Monthly call"
    message.set_content("Yes, I'll be there.")
    for number in range(count - 1):
        message.add_attachment(f"note {number}".encode(), maintype="application", subtype="octet-stream",
                               filename=f"note{number}.txt")
    return message


def test_more_parts_than_the_limit_are_read_partly_with_a_problem_noted(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    message = _many_parts(app.config["INBOUND_MAX_PARTS"] + 50)
    message["To"], message["Message-ID"] = address, "<many-parts@example.org>"
    incoming = read_message(bytes(message))
    assert incoming.text == "Yes, I'll be there."
    assert any("more than" in problem for problem in incoming.problems)
    stored = deliver(app, bytes(message), address)
    assert stored.status == "done" and any("more than" in p for p in stored.detail["problems"])


def _count_header_parses(monkeypatch) -> list:
    """Every header value the parser reads (the work that grows with parts and header lines)."""
    from service.inbound.message import BoundedPolicy
    calls, parse = [], BoundedPolicy.header_fetch_parse

    def counted(self, name, value):
        calls.append(name)
        return parse(self, name, value)
    monkeypatch.setattr(BoundedPolicy, "header_fetch_parse", counted)
    return calls


def test_sixty_thousand_tiny_parts_are_not_all_parsed(app, ctx, personas, monkeypatch):
    """2 MB of empty parts (well under the size limit) once took the parser 48 s; only the parts read are parsed."""
    address = make_address("unsubscribe", _ana().id)
    raw = (f"From: ana@example.org\r\nTo: {address}\r\nSubject: unsubscribe\r\n"
           "Content-Type: multipart/mixed; boundary=x\r\n\r\n").encode() \
        + b"--x\r\nContent-Type: text/plain\r\n\r\nstop\r\n" * 60_000 + b"--x--\r\n"
    calls = _count_header_parses(monkeypatch)
    incoming = read_message(raw)
    assert incoming.text == "stop" and f"more than {app.config['INBOUND_MAX_PARTS']} parts" in incoming.problems[0]
    assert len(calls) < 20 * app.config["INBOUND_MAX_PARTS"]
    stored = deliver(app, raw, address)
    assert (stored.status, stored.outcome) == ("done", "unsubscribed") and stored.raw == raw


def test_half_a_million_header_lines_are_not_all_parsed(app, ctx, monkeypatch):
    raw = b"From: ana@example.org\r\nSubject: hello\r\n" + b"X-Filler: v\r\n" * 500_000 + b"\r\nYes.\r\n"
    calls = _count_header_parses(monkeypatch)
    incoming = read_message(raw)
    assert (incoming.subject, incoming.text) == ("hello", "Yes.")
    assert any("header block over" in problem for problem in incoming.problems)
    assert len(calls) < 1000


def _nested(depth: int, text: str = "Yes, from the bottom.") -> bytes:
    inner = f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    for level in range(depth):
        inner = (f"Content-Type: multipart/mixed; boundary=\"level{level}\"\r\n\r\n--level{level}\r\n{inner}"
                 f"--level{level}--\r\n")
    return f"From: ana@example.org\r\nSubject: deep\r\nMIME-Version: 1.0\r\n{inner}".encode()


def test_parts_nested_deeper_than_the_limit_are_not_read_and_nothing_raises(app, ctx, personas):
    limit = app.config["INBOUND_MAX_DEPTH"]
    within = read_message(_nested(limit - 1))
    assert within.text == "Yes, from the bottom." and within.problems == []
    deeper = read_message(_nested(limit + 3))
    assert deeper.text == "" and any(f"deeper than {limit}" in p for p in deeper.problems)
    absurd = read_message(_nested(2000))  # deeper than Python's recursion limit
    assert absurd.text == "" and absurd.problems
    address = make_address("unsubscribe", _ana().id)
    stored = deliver(app, _nested(2000).replace(b"Subject: deep", f"To: {address}\r\nSubject: deep".encode()),
                     address)
    assert stored.status == "done" and stored.raw.endswith(b"--level1999--\r\n")


@pytest.mark.parametrize("name", ["Subject", "From", "To", "References", "X-Long"])
def test_a_one_megabyte_header_line_is_cut_not_choked_on(app, ctx, personas, name):
    address = make_address("unsubscribe", _ana().id)
    headers = {"From": "ana@example.org", "To": address, "Subject": "unsubscribe",
               "Message-ID": f"<long-{name.lower()}@example.org>", "References": "<a@b.example>"}
    headers[name] = {"From": "(" * 500_000 + "ana@example.org" + ")" * 500_000, "To": f"{address}, " * 25_000,
                     "References": "<a@b.example> " * 80_000}.get(name, "word " * 210_000)
    raw = "".join(f"{key}: {value}\n" for key, value in headers.items()).encode() + b"\nstop\n"
    assert len(raw) > 1_000_000
    incoming = read_message(raw)
    assert len(incoming.subject) <= 255 and len(incoming.references) <= 50
    stored = deliver(app, raw, address)
    assert (stored.status, stored.outcome) == ("done", "unsubscribed") and stored.raw == raw
    assert len(stored.subject) <= 255


# 5. Hostile and malformed MIME ----------------------------------------------------------------------

MALFORMED = {  # fixture: (words the member wrote that must come through, a problem noted or None)
    "missing_boundary.eml": ("Yes, I'll be there.", "NoBoundaryInMultipartDefect"),
    "broken_base64.eml": ("", "Base64"),
    "broken_quoted_printable.eml": ("Sí, allí estaré", None),
    "bad_encoded_words.eml": ("Yes, I'll be there.", None),
    "unknown_charset.eml": ("Sí, allí estaré.", "x-unknown"),
    "lying_charset.eml": ("Sí, cuenten conmigo. Nos vemos el martes; mañana confirmo la hora.", "read as windows-1252"),
    "eight_bit_headers.eml": ("Sí, allí estaré.", None),
    "nul_bytes.eml": ("Yes, I'll be there.", None),
    "html_only_script.eml": ("Yes, I'll be there & I’ll bring notes.", None),
    "header_injection_subject.eml": ("Yes.", None),
}


@pytest.mark.parametrize("fixture", sorted(MALFORMED))
def test_malformed_mime_is_read_as_far_as_it_can_be_with_the_problem_noted(app, ctx, fixture):
    words, problem = MALFORMED[fixture]
    incoming = read_message(_fixture(fixture, "reply+1.1.0000000000000000@cop.localhost"))
    assert words in incoming.text
    assert "\x00" not in incoming.text + incoming.subject + incoming.from_name
    assert not any(mark in incoming.subject or mark in incoming.from_name for mark in LINE_BREAKS)
    if problem:
        assert any(problem in noted for noted in incoming.problems), incoming.problems
    assert incoming.from_address == "ana@example.org"


@pytest.mark.parametrize("fixture", sorted(MALFORMED))
def test_malformed_mime_goes_through_the_pipeline_kept_whole(app, ctx, personas, fixture):
    """Stored byte for byte, its subject one clean line, processed (the unsubscribe address needs no text)."""
    address = make_address("unsubscribe", _ana().id)
    raw = _fixture(fixture, address)
    stored = deliver(app, raw, address)
    assert stored.raw == raw and stored.status == "done"
    assert "\x00" not in stored.subject and not any(mark in stored.subject for mark in LINE_BREAKS)


@pytest.mark.parametrize("fixture", sorted(MALFORMED))
def test_malformed_mime_in_a_reply_is_never_a_failure(app, ctx, personas, fixture):
    pytest.importorskip("service.inbound.replies", reason="reply understanding lands on another branch")
    ana, _row, address = _invited(personas)
    raw = _fixture(fixture, address)
    stored = deliver(app, raw, address)
    assert stored.raw == raw and stored.status in ("done", "held", "unclear", "ignored"), stored.reason
    assert "\x00" not in (stored.text or "") and "<script" not in (stored.text or "")


def test_a_subject_with_encoded_line_breaks_stays_one_line_everywhere(app, ctx, personas):
    address = make_address("unsubscribe", _ana().id)
    raw = _fixture("header_injection_subject.eml", address)
    incoming = read_message(raw)
    stored = deliver(app, raw, address)
    for subject in (incoming.subject, stored.subject):
        assert subject.startswith("Re: Monthly call Bcc: victim@example.net")
        assert not any(mark in subject for mark in LINE_BREAKS)
    header_block = email.message_from_string(f"Subject: Re: {stored.subject}\n\n")
    assert list(header_block.keys()) == ["Subject"]  # reused in a reply's headers, it adds none


def test_an_html_only_body_becomes_text_without_markup_or_scripts(app, ctx):
    incoming = read_message(_fixture("html_only_script.eml", "reply+1.1.0000000000000000@cop.localhost"))
    text = incoming.text
    assert text.splitlines() == ["Yes, I'll be there & I’ll bring notes.", "my link",
                                 "> On Monday, Riverside COP wrote:", "> Will you join the monthly call?"]
    for hostile in ("<", "alert", "steal", "evil", "injected", "color", "display", "hidden title", "javascript"):
        assert hostile not in text
