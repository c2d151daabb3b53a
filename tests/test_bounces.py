"""Bounces arriving at our VERP addresses: real MTA reports score, suppress and show; auto-replies never count.

The fixtures under tests/fixtures/bounces/ are .eml files as MTAs write them,
with {{RECIPIENT}} (the member's address) and {{VERP}} (the envelope sender we
used, where the report comes back to) filled in by each test.
"""
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from rq.job import Job
from sqlalchemy import select

from service import bounces, mailer, members, moments
from service.addresses import make_address, read_address
from service.extensions import db
from service.models import (AuditEvent, BounceEvent, Community, InboundMessage, Member, Membership, OutboundEmail,
                            Suppression)
from service.queue import get_queue
from tests.conftest import run_worker

FIXTURES = Path(__file__).parent / "fixtures" / "bounces"
NOT_RECEIVING = "Members who are not receiving email"


def _eml(name: str, recipient: str, verp: str, line_end: bytes = b"\n") -> bytes:
    """A fixture with this test's addresses in it, optionally with the CRLF line ends SMTP delivers."""
    raw = (FIXTURES / name).read_bytes()
    raw = raw.replace(b"{{RECIPIENT}}", recipient.encode()).replace(b"{{VERP}}", verp.encode())
    return raw.replace(b"\n", line_end) if line_end != b"\n" else raw


def _community(name="Riverside COP") -> Community:
    return db.session.scalar(select(Community).where(Community.name == name))


def _member(email: str) -> Member:
    return db.session.scalar(select(Member).where(Member.email == email))


def _mailed(email: str, name: str = "Dana Reyes") -> tuple[Member, OutboundEmail, str]:
    """A Riverside member who was sent a welcome email: (member, outbox row, the row's VERP address)."""
    community = _community()
    members.add_member(None, community, name=name, email=email)
    db.session.flush()
    member = _member(email)
    assert mailer.queue_email("welcome", member, f"welcome:{email}", community=community) == 1
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == email))
    row.status = "sent"
    db.session.commit()
    return member, row, make_address("bounce", row.id)


def _events(member: Member | None = None) -> list[BounceEvent]:
    query = select(BounceEvent).order_by(BounceEvent.id)
    if member is not None:
        query = query.where(BounceEvent.member_id == member.id)
    return list(db.session.scalars(query))


def _suppressions() -> list[Suppression]:
    return list(db.session.scalars(select(Suppression)))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment  # SQLite gives naive UTC


def _fresh(member: Member) -> Member:
    """The member as stored, once what was handled is committed (the caller's part, as inbound processing's)."""
    db.session.commit()
    return db.session.get(Member, member.id)


# 1. A hard bounce ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line_end", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_hard_dsn_suppresses_the_member_and_the_coordinator_sees_why(app, ctx, alice_client, smtp, line_end):
    community = _community()
    members.add_member(None, community, name="Dana Reyes", email="dana@example.net", welcome=True)
    db.session.commit()
    run_worker(app)
    [welcome] = smtp.to("dana@example.net")
    verp = welcome.mail_from  # the envelope sender delivery really used
    assert read_address(verp)[0] == "bounce"
    dana = _member("dana@example.net")

    result = bounces.handle_bounce_message(
        _eml("postfix_dsn_user_unknown.eml", "dana@example.net", verp, line_end), verp)

    assert result == "hard bounce recorded; member suppressed"
    [event] = _events()
    row = db.session.scalar(select(OutboundEmail).where(OutboundEmail.recipient == "dana@example.net"))
    assert (event.kind, event.member_id, event.outbound_email_id, event.address) == \
        ("hard", dana.id, row.id, "dana@example.net")
    assert "5.1.1" in event.diagnostic and "User unknown" in event.diagnostic
    dana = _fresh(dana)
    assert dana.status == "bounced"
    assert [(s.address, s.reason) for s in _suppressions()] == [("dana@example.net", "bounced")]
    [audit] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "member.bounced")).all()
    assert audit.object_id == dana.id and audit.actor == "system" and "5.1.1" in audit.details["last"]

    # Later mail to Dana is kept back with the reason; Ana, in the same announcement, still gets hers.
    assert mailer.queue_email("welcome", dana, "welcome-again", community=community) == 1
    ana = _member("ana@example.org")
    assert mailer.queue_bulk("announcement", [dana, ana], key_for=lambda m: f"news:{m.id}",
                             context_for=lambda m: {"subject": "Next meeting", "body": "Thursday at 10."},
                             community=community) == 2
    db.session.commit()
    run_worker(app)
    later = db.session.scalars(select(OutboundEmail).where(
        OutboundEmail.recipient == "dana@example.net", OutboundEmail.id != row.id)).all()
    assert sorted((r.kind, r.status, r.last_error) for r in later) == [
        ("announcement", "suppressed", "bounced"), ("welcome", "suppressed", "bounced")]
    assert len(smtp.to("dana@example.net")) == 1  # only the welcome that bounced
    assert len(smtp.to("ana@example.org")) == 1

    page = alice_client.get(f"/communities/{community.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    body = html.split("<main>", 1)[1]
    section = body.split(NOT_RECEIVING, 1)[1].split("</table>", 1)[0]
    assert "Dana Reyes" in section and "dana@example.net" in section
    assert "their address bounces" in section and "5.1.1" in section
    assert "ana@example.org" not in section
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "<" not in title and NOT_RECEIVING not in title


def test_exim_plain_text_bounce_is_a_hard_bounce_despite_its_auto_submitted_header(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    raw = _eml("exim_failed_recipients.eml", member.email, verp)
    assert b"Auto-Submitted: auto-replied" in raw  # Exim marks its bounces so; they are still bounces

    assert bounces.handle_bounce_message(raw, verp) == "hard bounce recorded; member suppressed"
    [event] = _events()
    assert event.kind == "hard" and event.outbound_email_id == row.id
    assert "550 5.1.1" in event.diagnostic  # what the remote server said, not the bounce's subject
    assert _fresh(member).status == "bounced"


def test_a_bounce_for_an_address_the_member_no_longer_has_changes_nothing(app, ctx, personas):
    member, row, verp = _mailed("dana@old.example.net")
    member.email = "dana@new.example.net"  # the coordinator corrected the address after the send
    db.session.commit()

    result = bounces.handle_bounce_message(_eml("postfix_dsn_user_unknown.eml", "dana@old.example.net", verp), verp)

    assert result.startswith("ignored")
    member = _fresh(member)
    assert member.status == "active" and not member.bounce_score
    assert _suppressions() == [] and _events() == []


# 2. Soft bounces and decay ------------------------------------------------------------------------

def test_a_mailbox_full_delay_is_one_soft_bounce_and_does_not_suppress(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")

    result = bounces.handle_bounce_message(_eml("postfix_dsn_mailbox_full_delayed.eml", member.email, verp), verp)

    assert result == "soft bounce recorded"
    [event] = _events()
    assert event.kind == "soft" and "4.2.2" in event.diagnostic and event.outbound_email_id == row.id
    member = _fresh(member)
    assert member.status == "active" and member.bounce_score == pytest.approx(1.0, abs=1e-3)
    assert _suppressions() == []
    assert mailer.queue_email("welcome", member, "again", community=_community()) == 1
    db.session.commit()
    again = db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key == "again"))
    assert again.status == "pending" and again.last_error is None


def test_soft_bounces_in_a_row_reach_the_threshold_and_suppress(app, ctx, personas):
    assert app.config["BOUNCE_THRESHOLD"] == 5
    member, row, verp = _mailed("dana@example.net")
    raw = _eml("postfix_dsn_mailbox_full_delayed.eml", member.email, verp)

    results = [bounces.handle_bounce_message(raw, verp) for _ in range(5)]

    assert results == ["soft bounce recorded"] * 4 + ["soft bounce recorded; member suppressed"]
    assert [e.kind for e in _events()] == ["soft"] * 5
    member = _fresh(member)
    assert member.status == "bounced"
    assert [(s.address, s.reason) for s in _suppressions()] == [("dana@example.net", "bounced")]
    assert mailer.queue_email("welcome", member, "again", community=_community()) == 1
    db.session.commit()
    again = db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key == "again"))
    assert (again.status, again.last_error) == ("suppressed", "bounced")


def test_soft_bounces_weeks_apart_decay_and_never_suppress(app, ctx, personas):
    assert app.config["BOUNCE_HALF_LIFE_DAYS"] == 14
    member, row, verp = _mailed("dana@example.net")
    raw = _eml("postfix_dsn_mailbox_full_delayed.eml", member.email, verp)

    for _ in range(10):  # ten mailbox-full warnings, each 60 days after the one before
        assert bounces.handle_bounce_message(raw, verp) == "soft bounce recorded"
        member = _fresh(member)
        member.bounce_scored_at = member.bounce_scored_at - timedelta(days=60)
        db.session.commit()

    member = _fresh(member)
    assert member.status == "active" and member.bounce_score < 1.1  # 1 + 1/2**(60/14) + ...
    assert _suppressions() == [] and len(_events()) == 10


def test_an_old_score_has_mostly_decayed_when_a_new_soft_bounce_comes(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    member.bounce_score = 4.9  # one short of suppression... two months ago
    member.bounce_scored_at = datetime.now(timezone.utc) - timedelta(days=60)
    db.session.commit()

    assert bounces.handle_bounce_message(_eml("postfix_dsn_mailbox_full_delayed.eml", member.email, verp),
                                         verp) == "soft bounce recorded"

    member = _fresh(member)
    assert member.status == "active"
    assert member.bounce_score == pytest.approx(1 + 4.9 * 0.5 ** (60 / 14), abs=1e-3)


# 3. Auto-replies ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fixture", ["rfc3834_out_of_office.eml", "respuesta_automatica_es.eml"])
def test_out_of_office_replies_never_count(app, ctx, personas, fixture):
    member, row, verp = _mailed("dana@example.net")
    member.bounce_score = 3.0
    member.bounce_scored_at = scored_at = datetime.now(timezone.utc) - timedelta(days=1)
    db.session.commit()

    for _ in range(6):  # however many arrive
        assert bounces.handle_bounce_message(_eml(fixture, member.email, verp), verp).startswith("ignored")

    member = _fresh(member)
    assert member.status == "active" and member.bounce_score == 3.0
    assert _utc(member.bounce_scored_at) == scored_at
    assert _events() == [] and _suppressions() == []


@pytest.mark.parametrize("headers", [
    "Auto-Submitted: auto-generated\nSubject: Re: Welcome",
    "X-Autoreply: yes\nSubject: Re: Welcome",
    "Subject: Automatic reply: Welcome to Riverside COP",
    "Subject: =?utf-8?q?Fuera_de_la_oficina=3A_Bienvenida?=",
], ids=["auto-generated", "x-autoreply", "automatic-reply", "fuera-de-la-oficina"])
def test_other_auto_replies_never_count(app, ctx, personas, headers):
    member, row, verp = _mailed("dana@example.net")
    raw = (f"From: Dana Reyes <dana@example.net>\nTo: {verp}\n{headers}\n"
           "Content-Type: text/plain; charset=utf-8\n\nI am away this week.\n").encode()

    assert bounces.handle_bounce_message(raw, verp).startswith("ignored")
    assert _events() == [] and _fresh(member).bounce_score == 0


# 4. Forged and foreign addresses ------------------------------------------------------------------

def _forgeries(row: OutboundEmail, member: Member) -> dict[str, str]:
    genuine = make_address("bounce", row.id)
    local, domain = genuine.split("@")
    signature = local.rsplit(".", 1)[1]
    wrong = ("0" if signature[0] != "0" else "1") + signature[1:]
    return {
        "wrong signature": f"bounce+{row.id}.{wrong}@{domain}",
        "no signature": f"bounce+{row.id}@{domain}",
        "another domain": f"{local}@elsewhere.example.com",
        "a reply address": make_address("reply", member.id, _community().id),
        "an unsubscribe address": make_address("unsubscribe", member.id),
        "reply signature on a bounce": f"bounce+{make_address('reply', row.id).split('@')[0].split('+')[1]}@{domain}",
        "empty": "",
        "not an address": "MAILER-DAEMON",
    }


def test_forged_or_foreign_addresses_record_nothing(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    for what, address in _forgeries(row, member).items():
        raw = _eml("postfix_dsn_user_unknown.eml", member.email, address)
        result = bounces.handle_bounce_message(raw, address)
        assert result.startswith("ignored"), what
    member = _fresh(member)
    assert member.status == "active" and not member.bounce_score
    assert _events() == [] and _suppressions() == []


def test_a_genuine_address_for_a_row_that_does_not_exist_records_nothing(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    missing = make_address("bounce", row.id + 1000)
    assert bounces.handle_bounce_message(_eml("postfix_dsn_user_unknown.eml", member.email, missing),
                                         missing).startswith("ignored")
    assert _events() == [] and _fresh(member).status == "active"


# 5. Malformed mail --------------------------------------------------------------------------------

def _malformed(member: Member, verp: str) -> dict[str, bytes]:
    return {
        "broken boundary, truncated": _eml("malformed_truncated.eml", member.email, verp),
        "headers only": b"From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail",
        "empty": b"",
        "binary junk": bytes(range(256)) * 4,
        "8-bit headers": b"From: \xff\xfe\nSubject: \xc3\xa9chec \xff de livraison\nContent-Type: text/plain;"
                         b" charset=\"\xff\"\n\n\xff\xfe\x00body\n",
        "bad delivery-status": (b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
                                b"--b\nContent-Type: message/delivery-status\nContent-Transfer-Encoding: base64"
                                b"\n\n!!!not base64\n--b--\n"),
        "NUL in the diagnostic": b"From: MAILER-DAEMON@mx.example.net\n\n550 5.1.1 \x00\x01 gone\n",
        "nested junk": (b"Content-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: multipart/report;"
                        b" boundary=c\n\n--c\nContent-Type: message/rfc822\n\n--c--\n--a\n"),
    }


def test_malformed_mime_does_not_crash_and_does_not_cut_anyone_off(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    for what, raw in _malformed(member, verp).items():
        result = bounces.handle_bounce_message(raw, verp)
        assert isinstance(result, str) and result, what
        member = _fresh(member)
        assert member.status == "active", what
        member.bounce_score, member.bounce_scored_at = 0.0, None  # judge each message on its own
        db.session.commit()
    for event in _events():
        assert (event.kind, event.member_id, event.outbound_email_id) == ("soft", member.id, row.id)


def test_a_dsn_cut_in_half_still_counts_for_what_it_says(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    dsn = _eml("postfix_dsn_user_unknown.eml", member.email, verp)
    half = dsn[:dsn.index(b"Remote-MTA:")]  # cut inside the delivery-status part: "Action: failed" is there
    assert bounces.handle_bounce_message(half, verp) == "hard bounce recorded; member suppressed"
    assert [e.kind for e in _events()] == ["hard"] and "5.1.1" in _events()[0].diagnostic


def test_an_unreadable_message_alone_does_not_suppress(app, ctx, personas):
    member, row, verp = _mailed("dana@example.net")
    result = bounces.handle_bounce_message(_eml("malformed_truncated.eml", member.email, verp), verp)
    assert result == "soft bounce recorded"  # counted (the VERP address says who), but not as a hard bounce
    [event] = _events()
    assert event.kind == "soft" and "Rückmeldung" in event.diagnostic  # the subject, decoded, for the coordinator
    member = _fresh(member)
    assert member.status == "active" and _suppressions() == []


# 6. Tampering with our addresses ------------------------------------------------------------------

def test_read_address_survives_case_folding_and_refuses_a_changed_id(app, ctx):
    address = make_address("bounce", 42)
    assert address == address.lower()
    assert read_address(address) == ("bounce", (42,))
    assert read_address(address.upper()) == ("bounce", (42,))
    assert read_address(f"<{address.upper()}>") == ("bounce", (42,))
    signature = address.split("@")[0].rsplit(".", 1)[1]
    domain = address.split("@")[1]
    assert read_address(f"bounce+43.{signature}@{domain}") is None
    assert read_address(f"reply+42.{signature}@{domain}") is None
    two = make_address("reply", 7, 9)
    assert read_address(two) == ("reply", (7, 9))
    assert read_address(two.replace("+7.9.", "+9.7.")) is None


@pytest.mark.parametrize("address", [
    "bounce+1.\u00f1\u00f1\u00f1@cop.localhost",          # non-ASCII signature
    "bounce+\u00b2.0123456789abcdef@cop.localhost",       # a "digit" int() refuses
    "bounce+.0123456789abcdef@cop.localhost",
    "bounce+1.2@cop.localhost@cop.localhost",
    "bounce@cop.localhost", "@cop.localhost", "+@cop.localhost", None,
])
def test_read_address_refuses_junk_without_raising(app, ctx, address):
    assert read_address(address) is None


@pytest.mark.parametrize("command", ["receive", "bounce"])
def test_flask_mail_receive_reads_a_report_from_standard_input(app, ctx, personas, command):
    """An MTA pipes reports for bounce+... addresses into `flask mail receive --to ADDRESS` (`bounce`, the
    command of earlier versions, is the same door): stored, then processed by the worker."""
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    mailer.queue_email("welcome", member, "cli-bounce")
    db.session.commit()
    row = db.session.scalar(select(OutboundEmail))
    verp = make_address("bounce", row.id)
    raw = (FIXTURES / "postfix_dsn_user_unknown.eml").read_text().replace("{{RECIPIENT}}", member.email) \
        .replace("{{VERP}}", verp).encode()
    result = app.test_cli_runner().invoke(args=["mail", command, "--to", verp], input=raw)
    assert result.exit_code == 0 and "processing queued" in result.output
    run_worker(app)
    db.session.expire_all()
    assert db.session.scalar(select(BounceEvent.kind)) == "hard"
    stored = db.session.scalar(select(InboundMessage))
    assert (stored.status, stored.outcome, stored.reason) == ("done", "bounce", "hard bounce recorded; member suppressed")


# SMTP refusals at delivery: about the recipient, or about us ---------------------------------------

SUBJECT = "Minutes of Thursday"


def _answer(handler, stage: str, reply: str) -> None:
    """Make the test SMTP server give `reply` at MAIL FROM, RCPT TO (for every recipient) or after the data."""
    async def at_mail(server, session, envelope, address, mail_options):
        return reply

    async def at_rcpt(server, session, envelope, address, rcpt_options):
        return reply

    async def at_data(server, session, envelope):
        return reply

    hook = {"mail": ("handle_MAIL", at_mail), "rcpt": ("handle_RCPT", at_rcpt), "data": ("handle_DATA", at_data)}
    setattr(handler, *hook[stage])


def _announce(count: int) -> list[Member]:
    """`count` Riverside members (Ana and new ones) and an announcement queued to each, in one delivery job."""
    community = _community()
    for number in range(count - 1):
        members.add_member(None, community, name=f"Member {number}", email=f"m{number}@lists.example.net")
    people = list(db.session.scalars(select(Member).where(Member.status == "active", Member.email != "ben@example.org")
                                      .order_by(Member.id)))
    assert len(people) == count
    mailer.queue_bulk("announcement", people, lambda m: f"minutes:{m.id}",
                      lambda m: {"subject": SUBJECT, "body": "Attached."}, community)
    db.session.commit()
    return people


def _rows() -> list[OutboundEmail]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


def _nobody_bounced() -> None:
    db.session.expire_all()
    assert _events() == [] and _suppressions() == []
    assert {member.status for member in db.session.scalars(select(Member))} == {"active"}


@pytest.mark.parametrize("stage, reply", [
    ("mail", "553 5.7.1 <bounce@cop.localhost>: Sender address rejected: not owned by user <alice>"),
    ("data", "554 5.7.1 Message rejected: content <looks> like spam"),
    ("data", "500 Internal error, it is not you"),
])
def test_a_refusal_about_us_stops_the_job_suppresses_nobody_and_the_coordinator_sees_it(
        app, ctx, alice_client, smtp, stage, reply):
    _answer(smtp, stage, reply)
    _announce(4)
    run_worker(app)

    _nobody_bounced()
    first, *rest = _rows()
    assert first.status == "pending" and first.attempts == 1 and first.next_attempt_at is not None
    assert first.last_error == f"SMTP {reply}"
    # The job stopped there: the others were never tried, and wait for the same retry.
    assert {(row.status, row.attempts, row.next_attempt_at) for row in rest} == \
        {("pending", 0, first.next_attempt_at)}
    queue = get_queue()
    assert sorted(i for job in queue.scheduled_job_registry.get_job_ids()
                  for i in Job.fetch(job, connection=queue.connection).args[0]) == [row.id for row in [first, *rest]]

    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "Delivery is stopped: the mail server refused our messages, not your members." in page
    escaped = reply.replace("<", "&lt;").replace(">", "&gt;")
    assert escaped in page and ("<" not in reply or reply not in page)
    assert "Nobody was marked as bounced" in page
    retry = moments.text(first.next_attempt_at, None, "en")  # the whole service's retry: in UTC, said so
    assert f"tried again from <time datetime=\"{moments.iso_utc(first.next_attempt_at)}\">{retry}</time>;" in page


def test_the_notice_goes_once_mail_flows_again_and_is_not_shown_to_another_community(
        app, ctx, client, alice_client, smtp):
    _answer(smtp, "mail", "553 5.7.1 Sender address rejected")
    _announce(2)
    run_worker(app)
    assert "Delivery is stopped" in alice_client.get("/outbox/").get_data(as_text=True)
    with app.app_context():  # (the test's own context remembers Alice as the logged-in user)
        bob = _logged_in(app, "bob@example.org")
        assert "Delivery is stopped" not in bob.get("/outbox/").get_data(as_text=True)

    del smtp.handle_MAIL  # the relay is fixed; the retry goes out
    db.session.execute(OutboundEmail.__table__.update().values(next_attempt_at=None))
    db.session.commit()
    from service.sweeper import sweep
    sweep(grace=timedelta(0))
    run_worker(app)
    assert {row.status for row in _rows()} == {"sent"}
    assert "Delivery is stopped" not in alice_client.get("/outbox/").get_data(as_text=True)


def test_a_recipient_refused_at_rcpt_is_the_one_hard_bounce(app, ctx, alice_client, smtp):
    people = _announce(3)
    smtp.scripted[people[1].email] = ["550 5.1.1 <m0@lists.example.net>: Recipient address rejected: User unknown"]
    run_worker(app)
    rows = {row.recipient: row for row in _rows()}
    assert rows.pop(people[1].email).status == "failed"
    assert {row.status for row in rows.values()} == {"sent"}
    assert [s.address for s in _suppressions()] == [people[1].email]
    assert _fresh(people[1]).status == "bounced" and _fresh(people[0]).status == "active"
    assert "Delivery is stopped" not in alice_client.get("/outbox/").get_data(as_text=True)


def test_the_same_refusal_for_five_recipients_in_a_row_is_the_relays_problem(app, ctx, alice_client, smtp):
    _answer(smtp, "rcpt", "550 Relaying denied")
    _announce(8)
    run_worker(app)

    _nobody_bounced()
    rows = _rows()
    assert [row.status for row in rows] == ["pending"] * 8
    tried, untried = rows[:5], rows[5:]
    assert all(row.attempts == 1 and "SMTP 550 Relaying denied" in row.last_error for row in tried)
    assert "5 recipients in a row" in tried[-1].last_error
    assert all(row.attempts == 0 for row in untried)
    page = alice_client.get("/outbox/").get_data(as_text=True)
    assert "Delivery is stopped" in page and "550 Relaying denied" in page


def test_different_refusals_in_a_row_are_each_a_bounce(app, ctx, personas, smtp):
    people = _announce(6)
    for number, member in enumerate(people):
        smtp.scripted[member.email] = [f"550 5.1.1 <{member.email}>: no mailbox here ({number})"]
    run_worker(app)
    assert {row.status for row in _rows()} == {"failed"}
    assert sorted(s.address for s in _suppressions()) == sorted(m.email for m in people)


def test_a_nul_in_the_servers_reply_does_not_lose_the_bounce(app, ctx, personas, smtp):
    people = _announce(2)
    smtp.scripted[people[0].email] = ["550 5.1.1 <ana@example.org>: User\x00 unknown"]
    run_worker(app)
    row = _rows()[0]
    assert row.status == "failed" and row.last_error == "SMTP 550 5.1.1 <ana@example.org>: User unknown"
    [event] = _events()
    assert event.diagnostic == row.last_error and event.outbound_email_id == row.id
    assert [s.address for s in _suppressions()] == [people[0].email]


def _bounced_ana() -> Member:
    ana = _member("ana@example.org")
    bounces.record_bounce(ana, "hard", "SMTP 550 5.1.1 User unknown")
    db.session.commit()
    return ana


def _logged_in(app, email: str):
    from tests.conftest import PASSWORD, login
    http = app.test_client()
    assert login(http, email, PASSWORD).status_code == 302
    return http


def _lift(http, community_id: int, member_id: int, page_of: int | None = None):
    """POST the lift button with the CSRF token of a community page (the one it is on unless `page_of`)."""
    from tests.conftest import post_form
    membership = db.session.scalar(select(Membership.id).where(Membership.member_id == member_id,
                                                              Membership.community_id == community_id))
    return post_form(http, f"/communities/{page_of or community_id}", {},
                     post_url=f"/outbox/communities/{community_id}/memberships/{membership or 0}/lift-bounce")


def test_a_coordinator_lifts_a_bounce_suppression_from_the_community_page_audited(app, ctx, alice_client, personas):
    ana = _bounced_ana()
    page = alice_client.get(f"/communities/{personas['riverside']}").get_data(as_text=True)
    assert "Send to this address again" in page
    response = _lift(alice_client, personas["riverside"], ana.id)
    assert response.status_code == 302
    assert "Email will reach Ana Torres again." in alice_client.get(response.location).get_data(as_text=True)
    assert _fresh(ana).status == "active" and _fresh(ana).bounce_score == 0 and _suppressions() == []
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "member.bounce_lifted"))
    assert (event.actor, event.object_id, event.details["address"]) == ("alice@example.org", ana.id, ana.email)
    # Only a bounce is lifted: an unsubscribe stays.
    db.session.add(Suppression(address=ana.email, reason="unsubscribed"))
    db.session.commit()
    _lift(alice_client, personas["riverside"], ana.id)
    assert [s.reason for s in _suppressions()] == ["unsubscribed"]


def test_lifting_needs_csrf_and_is_refused_outside_the_coordinators_communities(app, ctx, alice_client, personas):
    ana = _bounced_ana()
    membership = db.session.scalar(select(Membership.id).where(Membership.member_id == ana.id))
    url = f"/outbox/communities/{personas['riverside']}/memberships/{membership}/lift-bounce"
    assert alice_client.post(url).status_code == 400  # no CSRF token
    with app.app_context():  # (the test's own context remembers Alice as the logged-in user)
        bob = _logged_in(app, "bob@example.org")
        assert _lift(bob, personas["lakeside"], ana.id).status_code == 404  # not a Lakeside member
        assert _lift(bob, personas["riverside"], ana.id, page_of=personas["lakeside"]).status_code == 404
    assert _fresh(ana).status == "bounced" and len(_suppressions()) == 1


def test_a_member_shared_with_another_community_is_lifted_by_an_admin_only(app, ctx, alice_client, personas):
    ana = _bounced_ana()
    members.add_member(None, db.session.get(Community, personas["lakeside"]), name="Ana Torres",
                       email="ana@example.org")
    db.session.commit()
    refused = _lift(alice_client, personas["riverside"], ana.id)
    assert "an administrator can send to them again" in alice_client.get(refused.location).get_data(as_text=True)
    assert _fresh(ana).status == "bounced"
    with app.app_context():  # (the test's own context remembers Alice as the logged-in user)
        assert _lift(_logged_in(app, "carol@example.org"), personas["riverside"], ana.id).status_code == 302
    assert _fresh(ana).status == "active" and _suppressions() == []
