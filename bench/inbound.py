"""Inbound benchmark: 1,000 replies of mixed kinds through `flask mail receive`'s pipeline into 2 workers.

The replies are written from templates of what members' mail clients send,
each with its own Message-ID and the real signed addresses of real members
and of a real meeting in the benchmark's database:

- RSVP replies to the invitation (Gmail, Outlook, Apple Mail, Thunderbird; English and Spanish; yes/no/maybe),
- calendar answers (iTIP METHOD:REPLY as Google, Outlook and Apple send them),
- unsubscribes (a mail client's List-Unsubscribe mailto),
- out-of-office replies (Outlook, Gmail's vacation responder, Spanish), which must be ignored,
- delivery reports at the invitation's VERP address.

Each member sends one message, so what each should have recorded is known.

- pipeline: this process calls `store.receive` for every message (the very
  function `flask mail receive` calls; a process per message would measure
  Python's start-up, reported once as a separate figure), while `--workers`
  forking RQ worker processes (what `python -m jobs.worker` runs) process them.
  Timed from the first `receive` to the last row's `processed_at`.
- baseline: as many processes parse each raw message with the standard `email`
  package and INSERT it into a table, one commit per message, nothing else.

It also prints the CPU our own processes spend per reply (the store, the
workers with the confirmations' delivery) against the baseline's, and the
most replies/s that allows on this machine's cores: a ceiling on the ratio
that no scheduling of the same work can pass (PostgreSQL's share is left
out, being the whole server's).

Measured as `--repeat` pairs (default 3), baseline then pipeline, each on a
freshly built database; the pair with the median ratio is reported. Target:
ratio >= 0.3, and every reply accounted for (each row finished with the
outcome its kind should have, and the member's state changed accordingly;
none left `received` or `failed`). Exits 0 whatever the verdict.

The database (`cop_bench_in`) and the Redis db (7) are the benchmark's own:
it drops and rebuilds the schema and flushes the Redis db.
"""
import argparse
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.utils import format_datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import fanout  # noqa: E402  (the targets, the sink, the workers and the member set-up live there)
import report  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_in"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/7"
TARGET_RATIO = 0.3
STALL_SECONDS = 60
ODD = ROOT / "tests" / "fixtures" / "inbound" / "odd"
MIX = [("rsvp", 40), ("calendar", 20), ("unsubscribe", 15), ("out_of_office", 15), ("bounce", 10)]
EXPECTED = {  # kind: the (status, outcome) its row must end with
    "rsvp": ("done", "rsvp"), "calendar": ("done", "calendar_rsvp"), "unsubscribe": ("done", "unsubscribed"),
    "out_of_office": ("ignored", None), "bounce": ("done", "bounce")}


# --- the corpus ----------------------------------------------------------------------------------

RSVP_REPLIES = [  # (answer, client, text above the quote, quote header)
    ("yes", "gmail", "Count me in!", "On {date} Riverside Food Access COP <{ours}> wrote:"),
    ("yes", "apple", "Yes, I'll be there.", "On {date}, at 09:00, Riverside Food Access COP <{ours}> wrote:"),
    ("yes", "thunderbird", "Sí, allí estaré.", "El {date}, Riverside Food Access COP escribió:"),
    ("no", "outlook", "Sorry, I can't make it.", None),
    ("no", "gmail", "No puedo, lo siento.", "El {date}, Riverside Food Access COP <{ours}> escribió:"),
    ("maybe", "apple", "Maybe.", "On {date}, at 09:00, Riverside Food Access COP <{ours}> wrote:"),
    ("maybe", "outlook", "Tal vez.", None),
    ("yes", "thunderbird", "Cuenten conmigo.", "El {date}, Riverside Food Access COP escribió:"),
]
PARTSTATS = [("yes", "ACCEPTED", "Accepted"), ("no", "DECLINED", "Declined"), ("maybe", "TENTATIVE", "Tentative")]
OUT_OF_OFFICE = ["outlook_automatic_reply_en.eml", "gmail_vacation_en.eml", "respuesta_automatica_es.eml",
                 "fuera_de_oficina_cuerpo_es.eml"]
MESSAGE_ID_LINE = re.compile(rb"^Message-ID: [^\r\n]*", re.MULTILINE | re.IGNORECASE)


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def rsvp_reply(number: int, member, invitation_id: str, reply_to: str, subject: str, message_id: str):
    answer, client, said, quote = RSVP_REPLIES[number % len(RSVP_REPLIES)]
    date = "Tue, Jun 3, 2025 at 9:00 AM"
    quoted = "You're invited to the monthly call on Tuesday.\nPlease reply to let us know if you can come."
    if quote is None:  # Outlook: a rule and the original's headers, no '>' marks
        body = (f"{said}\n\n________________________________\nFrom: Riverside Food Access COP <{reply_to}>\n"
                f"Sent: Tuesday, June 3, 2025 9:00 AM\nTo: {member.name} <{member.email}>\nSubject: {subject}\n\n"
                f"{quoted}\n")
    else:
        body = f"{said}\n\n{quote.format(date=date, ours=reply_to)}\n" + "".join(
            f"> {line}\n" for line in quoted.splitlines())
    headers = (f"From: {member.name} <{member.email}>\nTo: Riverside Food Access COP <{reply_to}>\n"
               f"Subject: Re: {subject}\nDate: {format_datetime(datetime.now(timezone.utc))}\n"
               f"Message-ID: {message_id}\nIn-Reply-To: {invitation_id}\nReferences: {invitation_id}\n"
               "MIME-Version: 1.0\n")
    if client == "gmail":  # multipart/alternative with the quote in a gmail_quote div
        html = (f"<div dir=\"ltr\">{said}</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">"
                f"{quote.format(date=date, ours=reply_to)}</div><blockquote class=\"gmail_quote\">"
                f"{quoted.replace(chr(10), '<br>')}</blockquote></div>")
        raw = (headers + "Content-Type: multipart/alternative; boundary=\"000000000000b7\"\n\n--000000000000b7\n"
               "Content-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: 8bit\n\n" + body +
               "\n--000000000000b7\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: 8bit\n\n"
               + html + "\n\n--000000000000b7--\n")
    else:
        raw = headers + "Content-Type: text/plain; charset=utf-8; format=flowed\nContent-Transfer-Encoding: 8bit\n\n" \
            + body
    return answer, _crlf(raw)


def calendar_reply(number: int, member, meeting, calendar_address: str, message_id: str):
    answer, partstat, word = PARTSTATS[number % len(PARTSTATS)]
    shape = ("google", "outlook", "apple")[(number // len(PARTSTATS)) % 3]
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    starts = meeting.starts_at.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    prodid = {"google": "-//Google Inc//Google Calendar 70.9054//EN",
              "outlook": "Microsoft Exchange Server 2010", "apple": "-//Apple Inc.//macOS 14.5//EN"}[shape]
    ics = (f"BEGIN:VCALENDAR\nPRODID:{prodid}\nVERSION:2.0\nCALSCALE:GREGORIAN\nMETHOD:REPLY\nBEGIN:VEVENT\n"
           f"DTSTART:{starts}\nDTSTAMP:{stamp}\nORGANIZER;CN=Riverside Food Access COP:mailto:{calendar_address}\n"
           f"UID:{meeting.uid}\nATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT={partstat};\n"
           f" CN={member.name};X-NUM-GUESTS=0:mailto:{member.email}\nSEQUENCE:{meeting.sequence}\n"
           f"SUMMARY:{meeting.title}\nEND:VEVENT\nEND:VCALENDAR\n")
    subject = f"{word}: {meeting.title}" if shape != "google" else \
        f"{'Invitation' if answer == 'yes' else word} ({member.name}): {meeting.title}"
    headers = (f"From: {member.name} <{member.email}>\nTo: {calendar_address}\nSubject: {subject}\n"
               f"Date: {format_datetime(datetime.now(timezone.utc))}\nMessage-ID: {message_id}\nMIME-Version: 1.0\n")
    note = f"{member.name} has {word.lower()} this invitation."
    if shape == "google":
        raw = (headers + "Content-Type: multipart/mixed; boundary=\"g1\"\n\n--g1\n"
               "Content-Type: multipart/alternative; boundary=\"g2\"\n\n--g2\nContent-Type: text/plain; charset=UTF-8\n\n"
               f"{note}\n\n--g2\nContent-Type: text/calendar; charset=\"UTF-8\"; method=REPLY\n\n{ics}\n--g2--\n\n"
               "--g1\nContent-Type: application/ics; name=\"invite.ics\"\nContent-Disposition: attachment; "
               f"filename=\"invite.ics\"\n\n{ics}\n--g1--\n")
    elif shape == "outlook":
        raw = (headers + "Content-Type: multipart/alternative; boundary=\"_000_\"\n\n--_000_\n"
               f"Content-Type: text/plain; charset=\"us-ascii\"\n\n{note}\n\n--_000_\n"
               f"Content-Type: text/calendar; charset=\"utf-8\"; method=REPLY\n\n{ics}\n--_000_--\n")
    else:
        raw = (headers + "Content-Type: multipart/mixed; boundary=\"Apple-Mail=_1\"\n\n--Apple-Mail=_1\n"
               f"Content-Type: text/plain; charset=us-ascii\n\n{note}\n\n--Apple-Mail=_1\n"
               "Content-Type: text/calendar; charset=utf-8; method=REPLY; name=\"reply.ics\"\n"
               f"Content-Disposition: attachment; filename=\"reply.ics\"\n\n{ics}\n--Apple-Mail=_1--\n")
    return answer, _crlf(raw)


def unsubscribe_mail(member, address: str, message_id: str) -> bytes:
    """What a mail client's unsubscribe button sends to the List-Unsubscribe mailto."""
    return _crlf(f"From: {member.email}\nTo: {address}\nSubject: unsubscribe\n"
                 f"Date: {format_datetime(datetime.now(timezone.utc))}\nMessage-ID: {message_id}\nMIME-Version: 1.0\n"
                 "Content-Type: text/plain; charset=utf-8\n\nThis message will unsubscribe you from Riverside "
                 "Food Access COP.\n")


def from_fixture(name: str, member, to: str, invitation_id: str, message_id: str) -> bytes:
    raw = (ODD / name).read_bytes()
    raw = raw.replace(b"{{FROM}}", member.email.encode()).replace(b"{{TO}}", to.encode()) \
        .replace(b"{{IN_REPLY_TO}}", invitation_id.encode())
    head, separator, body = raw.partition(b"\n\n")  # only the message's own Message-ID, not a returned one's
    head = MESSAGE_ID_LINE.sub(f"Message-ID: {message_id}".encode(), head, count=1)
    return (head + separator + body).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def build_corpus(app, community_id: int, count: int, run: str) -> list[dict]:
    """One message per member: {kind, to, raw, member_id, answer}, kinds spread by MIX."""
    from sqlalchemy import select
    from service.addresses import make_address
    from service.extensions import db
    from service.models import Meeting, Member, OutboundEmail
    kinds = [kind for kind, share in MIX for _ in range(share)]
    corpus = []
    with app.app_context():
        meeting = db.session.scalar(select(Meeting))
        invitations = {row.member_id: row for row in db.session.scalars(select(OutboundEmail))}
        members = db.session.scalars(select(Member).order_by(Member.id).limit(count)).all()
        calendar_address = make_address("calendar", meeting.id)
        for number, member in enumerate(members):
            kind = kinds[number % len(kinds)]
            message_id = f"<bench-{run}-{number}@mail.example.net>"
            invitation = invitations[member.id]
            reply_to = make_address("reply", member.id, community_id)
            answer = None
            if kind == "rsvp":
                answer, raw = rsvp_reply(number, member, invitation.message_id, reply_to,
                                         f"You're invited: {meeting.title}", message_id)
                to = reply_to
            elif kind == "calendar":
                answer, raw = calendar_reply(number, member, meeting, calendar_address, message_id)
                to = calendar_address
            elif kind == "unsubscribe":
                to = make_address("unsubscribe", member.id)
                raw = unsubscribe_mail(member, to, message_id)
            elif kind == "out_of_office":
                to = reply_to
                raw = from_fixture(OUT_OF_OFFICE[number % len(OUT_OF_OFFICE)], member, to, invitation.message_id,
                                   message_id)
            else:
                to = make_address("bounce", invitation.id)
                raw = from_fixture("dsn_to_reply_address.eml", member, to, invitation.message_id, message_id)
            corpus.append({"kind": kind, "to": to, "raw": raw, "member_id": member.id, "answer": answer,
                           "message_id": message_id})
        db.session.remove()
    return corpus


# --- the benchmark's database --------------------------------------------------------------------

def build_state(app, count: int) -> int:
    """A fresh schema, `count` members, a meeting inviting them all with its invitations sent; the community id."""
    from redis import Redis
    from sqlalchemy import String, cast, literal, update
    from service import meetings
    from service.extensions import db
    from service.models import Community, OutboundEmail
    fanout.reset_schema(app)
    community_id = fanout.create_members(app, count)
    with app.app_context():
        community = db.session.get(Community, community_id)
        meetings.create_meeting(None, community, starts_at=datetime.now(timezone.utc) + timedelta(days=7),
                                title="Monthly call", location="Community Hall, 12 Elm St.")
        db.session.commit()
        db.session.execute(update(OutboundEmail).values(  # as if delivered: each with the Message-ID replies cite
            status="sent", sent_at=datetime.now(timezone.utc),
            message_id=literal("<invitation-") + cast(OutboundEmail.id, String) + literal("@cop.localhost>")))
        db.session.commit()
        db.session.remove()
        Redis.from_url(app.config["REDIS_URL"]).flushdb()  # the invitations' delivery jobs and the reminders
    return community_id


# --- the pipeline --------------------------------------------------------------------------------

def run_pipeline(app, corpus: list[dict], args, env, log_dir) -> dict:
    from sqlalchemy import func, select
    from service.extensions import db
    from service.inbound.store import receive
    from service.models import InboundMessage
    from service.queue import get_queue
    refuse_shared_queue(app)
    workers = fanout.Workers(args.workers, args.worker_class, env, log_dir)
    try:
        with app.app_context():
            workers.wait_ready(get_queue())
            time.sleep(0.5)
            cpu_before = workers.cpu_seconds()
            database_before = fanout.database_cpu_seconds()
            started = time.time()
            receive_cpu = time.process_time()
            for message in corpus:
                receive(message["raw"], message["to"], "mta")
            received = time.time()
            receive_cpu = time.process_time() - receive_cpu
            db.session.remove()
            statuses = wait_for_inbound(app, len(corpus), log_dir)
            last = db.session.scalar(select(func.max(InboundMessage.processed_at)))
            db.session.remove()
            workers.wait_idle(get_queue(), timeout=120)  # confirmations' delivery, after the clock stopped
            cpu = workers.cpu_seconds() - cpu_before
            database_cpu = fanout.database_cpu_seconds() - database_before
    except BaseException:
        workers.kill()
        raise
    workers.stop()
    elapsed = last.timestamp() - started
    size = len(corpus)
    return {"elapsed": elapsed, "rate": size / elapsed, "receive_seconds": received - started,
            "receive_ms": (received - started) * 1000 / size, "receive_cpu_ms": receive_cpu * 1000 / size,
            "cpu_ms": cpu * 1000 / size, "database_cpu_ms": database_cpu * 1000 / size, "statuses": statuses}


def refuse_shared_queue(app) -> None:
    """Stop if another process's RQ workers listen on this Redis db: they would take our jobs and process
    them against their own database ("no such message"), and the run would stall."""
    from rq import Worker
    from service.queue import get_queue, redis_connection
    with app.app_context():
        others = Worker.all(connection=redis_connection(), queue=get_queue())
    if others:
        sys.exit(f"{len(others)} other RQ worker(s) (pid {', '.join(str(w.pid) for w in others)}) listen on "
                 f"{app.config['REDIS_URL']}; choose another Redis db with --redis-url or BENCH_INBOUND_REDIS_URL")


def wait_for_inbound(app, size: int, log_dir) -> dict:
    """Row counts per status once no row is left `received` (checked twice a second)."""
    from sqlalchemy import func, select
    from service.extensions import db
    from service.models import InboundMessage
    progress, progress_at = -1, time.time()
    while True:
        with app.app_context(), db.engine.connect() as connection:
            counts = dict(connection.execute(select(InboundMessage.status, func.count())
                                             .group_by(InboundMessage.status)).all())
        done = sum(counts.values()) - counts.get("received", 0)
        if done >= size:
            return counts
        if done != progress:
            progress, progress_at = done, time.time()
        if time.time() - progress_at > STALL_SECONDS:
            raise RuntimeError(f"no message finished for {STALL_SECONDS} s: {counts}; see {log_dir}")
        time.sleep(0.5)


def account(app, corpus: list[dict]) -> dict:
    """Per kind: how many ended as expected, and the (status, outcome, reason) of those that did not."""
    from sqlalchemy import select
    from service.extensions import db
    from service.models import InboundMessage, Invitation, Member
    per_kind = {kind: {"total": 0, "expected": 0, "wrong": Counter()} for kind, _share in MIX}
    with app.app_context():
        rows = {row.message_id: row for row in db.session.scalars(select(InboundMessage))}
        answers = dict(db.session.execute(select(Invitation.member_id, Invitation.answer)).all())
        states = dict(db.session.execute(select(Member.id, Member.status)).all())
        for message in corpus:
            tally = per_kind[message["kind"]]
            tally["total"] += 1
            row = rows.get(message["message_id"])
            if row is None:
                tally["wrong"]["(not stored)"] += 1
                continue
            member = message["member_id"]
            effect = {"rsvp": answers.get(member) == message["answer"],
                      "calendar": answers.get(member) == message["answer"],
                      "unsubscribe": states.get(member) == "unsubscribed",
                      "out_of_office": answers.get(member) is None and states.get(member) == "active",
                      "bounce": states.get(member) == "bounced"}[message["kind"]]
            if (row.status, row.outcome) == EXPECTED[message["kind"]] and effect:
                tally["expected"] += 1
            else:
                tally["wrong"][f"{row.status}/{row.outcome}: {(row.reason or '')[:70]}"
                               + ("" if effect else " (member state not as expected)")] += 1
        db.session.remove()
    return per_kind


# --- the baseline --------------------------------------------------------------------------------

BASELINE_TABLE = "bench_inbound_baseline"


def _baseline_process(database_url: str, messages: list[bytes], start, results) -> None:
    import psycopg
    connection = psycopg.connect(database_url, autocommit=True)
    start.wait()
    cpu = time.process_time()
    for raw in messages:
        message = message_from_bytes(raw, policy=policy.default)
        connection.execute(f"INSERT INTO {BASELINE_TABLE} (message_id, from_address, subject, raw) "
                           "VALUES (%s, %s, %s, %s)",
                           (str(message["Message-ID"] or ""), str(message["From"] or ""),
                            str(message["Subject"] or ""), raw))
    connection.close()
    results.put((time.time(), time.process_time() - cpu))


def run_baseline(database_url: str, corpus: list[dict], processes: int) -> dict:
    import psycopg
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {BASELINE_TABLE}")
        connection.execute(f"CREATE TABLE {BASELINE_TABLE} (id serial PRIMARY KEY, message_id text, "
                           "from_address text, subject text, raw bytea)")
    raws = [message["raw"] for message in corpus]
    context = multiprocessing.get_context("fork")
    start, results = context.Event(), context.Queue()
    senders = [context.Process(target=_baseline_process, args=(database_url, raws[i::processes], start, results))
               for i in range(processes)]
    for sender in senders:
        sender.start()
    time.sleep(0.3)  # connected, at the start line
    started = time.time()
    start.set()
    reports = [results.get(timeout=600) for _ in senders]
    for sender in senders:
        sender.join()
    with psycopg.connect(database_url, autocommit=True) as connection:
        stored = connection.execute(f"SELECT count(*) FROM {BASELINE_TABLE}").fetchone()[0]
    elapsed = max(finished for finished, _cpu in reports) - started
    return {"elapsed": elapsed, "rate": len(raws) / elapsed, "stored": stored,
            "cpu_ms": sum(cpu for _f, cpu in reports) * 1000 / len(raws)}


# --- one process per message, as an MTA pipe runs it ---------------------------------------------

def cli_start_up(corpus: list[dict], env: dict, count: int) -> float:
    """Milliseconds per message when each is piped into a `flask mail receive` process of its own, as an MTA's
    pipe transport runs it (stored and queued only; these copies carry new Message-IDs)."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "receive", "--to"]
    started = time.perf_counter()
    for message in corpus[:count]:
        fresh = message["message_id"].replace("@", "-cli@")
        head, separator, body = message["raw"].partition(b"\r\n\r\n")
        raw = MESSAGE_ID_LINE.sub(f"Message-ID: {fresh}".encode(), head, count=1) + separator + body
        subprocess.run(command + [message["to"]], input=raw, env=env, cwd=ROOT, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1000 / count


# --- report --------------------------------------------------------------------------------------

def ratio(pair: dict) -> float:
    return pair["pipeline"]["rate"] / pair["baseline"]["rate"]


def print_cpu_ceiling(pipeline: dict, baseline: dict) -> None:
    """The most replies/s the CPU our own processes spend per reply allows on this machine's cores.

    PostgreSQL's CPU is left out (it is every postgres process's on the
    machine, other users of the server included), as are other processes on
    the cores: a bound the pipeline cannot beat, however it is scheduled.
    """
    spent = pipeline["receive_cpu_ms"] + pipeline["cpu_ms"]
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / spent
    print(f"  CPU ms per reply in our processes (PostgreSQL aside): pipeline {spent:.2f} (store "
          f"{pipeline['receive_cpu_ms']:.2f} + workers {pipeline['cpu_ms']:.2f}), baseline {baseline['cpu_ms']:.2f} "
          f"({spent / baseline['cpu_ms']:.0f}x less); "
          f"{cores} cores allow the pipeline at most {ceiling:.0f} replies/s: ratio <= {ceiling / baseline['rate']:.2f}")


def print_report(pairs: list[dict], args, cli_ms: float | None, message_bytes: float) -> None:
    ordered = sorted(pairs, key=ratio)
    median = ordered[len(ordered) // 2]
    pipeline, baseline = median["pipeline"], median["baseline"]
    print()
    print(f"inbound: {args.replies} replies ({', '.join(f'{kind} {share}%' for kind, share in MIX)}), "
          f"{message_bytes / 1024:.1f} KB average, {args.workers} {args.worker_class} RQ workers; "
          f"baseline {args.workers} processes parsing with email + INSERT")
    print(f"  pipeline  {pipeline['rate']:8.0f} replies/s  ({pipeline['elapsed']:.2f} s; store.receive of all "
          f"{args.replies}: {pipeline['receive_seconds']:.2f} s, {pipeline['receive_ms']:.2f} ms each, "
          f"{pipeline['receive_cpu_ms']:.2f} ms CPU)")
    print(f"  baseline  {baseline['rate']:8.0f} replies/s  ({baseline['elapsed']:.2f} s; {baseline['cpu_ms']:.2f} "
          f"ms CPU each; {baseline['stored']} rows)")
    print(f"  ratio pipeline/baseline {ratio(median):.2f} (pairs: {', '.join(f'{ratio(p):.2f}' for p in pairs)})")
    print(f"  CPU ms per reply: workers {pipeline['cpu_ms']:.2f} (+ confirmations' delivery), "
          f"PostgreSQL {pipeline['database_cpu_ms']:.2f}")
    print_cpu_ceiling(pipeline, baseline)
    if cli_ms is not None:
        print(f"  one `flask mail receive` process per message (Python start-up + app + store): {cli_ms:.0f} ms "
              "per message")
    print("  accounted, per kind (expected status/outcome and the member's state):")
    for kind, tally in median["accounted"].items():
        print(f"    {kind:<14} {tally['expected']:>4} of {tally['total']:<4} as expected")
        for what, how_many in tally["wrong"].most_common(4):
            print(f"      {how_many:>4} {what}")
    complete = True
    for pair_number, pair in enumerate(pairs, start=1):
        statuses = pair["pipeline"]["statuses"]
        complete &= all(tally["expected"] == tally["total"] for tally in pair["accounted"].values())
        complete &= not statuses.get("received") and not statuses.get("failed")
        print(f"  pair {pair_number}: ratio {ratio(pair):.2f}, statuses {dict(sorted(statuses.items()))}")
    verdicts = [report.figure("pipeline replies/s / baseline's", ratio(median), ">=", TARGET_RATIO,
                              baseline="email package parse + INSERT",
                              text=f"ratio pipeline/baseline >= {TARGET_RATIO} (median of {len(pairs)} pairs): "
                                   f"{ratio(median):.2f}"),
                report.check("every reply accounted for, none received/failed, in every pair", complete)]
    fanout.print_verdicts(verdicts)


# --- main ----------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=1000, help="messages per run (one per member)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 200 replies, one pair")
    parser.add_argument("--workers", type=int, default=2, help="worker processes, and baseline processes")
    parser.add_argument("--repeat", type=int, default=3, help="baseline/pipeline pairs (the median is reported)")
    parser.add_argument("--worker-class", choices=("fork", "simple"), default="fork",
                        help="rq.Worker, forking a work-horse per job (what jobs.worker runs), or SimpleWorker")
    parser.add_argument("--cli-messages", type=int, default=10,
                        help="messages piped through a `flask mail receive` process each (0 to skip)")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_INBOUND")
    args, _others = parser.parse_known_args(argv)  # `make bench ARGS=...` passes the other benchmarks' too
    if args.quick:
        args.replies, args.repeat = 200, 1
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    fanout.prepare_targets(args)
    sink = fanout.Sink()  # the confirmations members are sent
    log_dir = Path(tempfile.mkdtemp(prefix="cop-bench-inbound-"))
    try:
        env, app = fanout.workers_app(args, sink, log_dir)
        psycopg_url = args.database_url.replace("postgresql+psycopg://", "postgresql://")
        pairs, message_bytes, cli_ms = [], 0.0, None
        for attempt in range(1, args.repeat + 1):
            print(f"pair {attempt} of {args.repeat}: building the database, baseline, then pipeline ...",
                  flush=True)
            community_id = build_state(app, args.replies)
            corpus = build_corpus(app, community_id, args.replies, f"{int(time.time())}-{attempt}")
            message_bytes = sum(len(message["raw"]) for message in corpus) / len(corpus)
            baseline = run_baseline(psycopg_url, corpus, args.workers)
            pipeline = run_pipeline(app, corpus, args, env, log_dir)
            pairs.append({"baseline": baseline, "pipeline": pipeline, "accounted": account(app, corpus)})
        if args.cli_messages:
            cli_ms = cli_start_up(corpus, env, args.cli_messages)
        print_report(pairs, args, cli_ms, message_bytes)
        print(f"worker logs: {log_dir}")
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
