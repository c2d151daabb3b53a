"""Conversation benchmark: one member's post to a community of 5,000 members, 4,000 of them on "every message".

- post: the raw message, as a mail client writes it (text and HTML parts),
  enters the pipeline through `store.receive` (what `flask mail receive`
  and the other ways mail comes in call) in this process; `--workers`
  forking RQ worker processes (what `python -m jobs.worker` runs) process it
  (the checks, the post, its outbox rows) and deliver the copies to a local
  SMTP sink. Timed from the `receive` call to the last copy's `sent_at`.
- baseline: the fan-out benchmark's outbox run (bench/fanout.py) for the
  same number of messages, an announcement queued with `mailer.queue_bulk`
  to the same 4,000 members, timed from `queue_bulk` to the last `sent_at`.

Measured as `--repeat` pairs (default 3), each a baseline run then a post,
against the same database, workers' settings and sink; the pair with the
median ratio (post rate / baseline rate) is reported, with every pair's.
Target: ratio >= 0.8 (receiving a post adds little to sending it), and every
copy accepted by the sink exactly once. It prints where the post's time
went (received, recorded with its rows queued, first and last copy sent) and
the CPU per message of the workers, the sink and PostgreSQL. Exits 0
whatever the verdict: it is a measurement.

The database (`cop_bench_conv`) and the Redis db (4) are the benchmark's
own: it drops and rebuilds the schema and flushes the Redis db
(`--database-url`, `--redis-url`, or BENCH_CONVERSATIONS_DATABASE_URL /
BENCH_CONVERSATIONS_REDIS_URL).
"""
import argparse
import signal
import sys
import tempfile
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import fanout  # noqa: E402  (the targets, the sink, the workers, the member set-up and the outbox run live there)
import report  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_conv"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/4"
TARGET_RATIO = 0.8
STARTUP_SECONDS = 300  # the workers' warm-up, on a loaded machine, before the clock starts

QUESTION = [
    "Hello everyone,",
    "We are redesigning how we do intake for families who come to the pantry without documents. Right now "
    "we ask for an ID and a proof of address, and we know some families turn around at the door because of it.",
    "How do you handle this at your organizations? In particular:",
    "- what do you ask for at the first visit, if anything;\n- how you record a household without an address;\n"
    "- whether your funders required anything, and how you talked with them about it.",
    "Any form you are willing to share would help a lot. We meet with our board on the 14th.",
    "Thank you!\nAna",
]


# --- the community and the post ------------------------------------------------------------------

def build_state(app, members: int, every: int) -> tuple[int, int]:
    """A fresh schema; `members` active members, the first `every` on "every message", the rest on the
    digest; posts not moderated. (community id, the author's member id: the last member, on the digest)."""
    from sqlalchemy import select, update
    from service.extensions import db
    from service.models import Community, Member, Membership
    fanout.reset_schema(app)
    community_id = fanout.create_members(app, members)
    with app.app_context():
        ids = db.session.scalars(select(Member.id).order_by(Member.id)).all()
        db.session.execute(update(Membership).where(Membership.member_id.in_(ids[every:]))
                           .values(conversations="digest"))
        db.session.get(Community, community_id).moderation = "none"
        db.session.commit()
        db.session.remove()
    return community_id, ids[-1]


def post_message(author_name: str, author_email: str, address: str, number: int) -> bytes:
    """The author's question as their mail client sends it: text and HTML alternatives, CRLF line ends."""
    message = EmailMessage()
    message["From"] = f"{author_name} <{author_email}>"
    message["To"] = address
    message["Subject"] = f"Intake for families without documents ({number})"
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(idstring=f"bench{number}", domain="mail.example.net")
    message["MIME-Version"] = "1.0"
    message.set_content("\n\n".join(QUESTION))
    html = "".join(f"<div>{paragraph.replace(chr(10), '<br>')}</div><div><br></div>" for paragraph in QUESTION)
    message.add_alternative(f'<div dir="ltr">{html}</div>', subtype="html")
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def run_post(app, sink: fanout.Sink, community_id: int, author_id: int, expected: int, number: int, args, env,
             log_dir) -> dict:
    """Receive one post and time it to the last copy the sink accepted."""
    from sqlalchemy import func, select
    from service.conversations.addresses import community_address
    from service.extensions import db
    from service.inbound.store import receive
    from service.models import Community, InboundMessage, Member, Membership, OutboundEmail, Post
    from service.queue import get_queue
    fanout.clear_outbox(app)
    sink.reset()
    workers = fanout.Workers(args.workers, args.worker_class, env, log_dir)
    try:
        with app.app_context():
            address = community_address(db.session.get(Community, community_id))
            author = db.session.execute(select(Membership.name, Member.email).join(Member).where(
                Membership.community_id == community_id, Member.id == author_id)).one()
            raw = post_message(author.name, author.email, address, number)
            db.session.remove()
            workers.wait_ready(get_queue(), timeout=STARTUP_SECONDS)
            time.sleep(0.5)  # let start-up finish, so the CPU counted below is the post's
            cpu_before = workers.cpu_seconds(), fanout.cpu_seconds(sink.process.pid)
            database_before = fanout.database_cpu_seconds()
            started = time.time()  # the clock starts as the MTA hands the message over
            row, _new = receive(raw, address, "mta")
            received = time.time()
            row_id = row.id
            db.session.remove()
            counts = fanout.wait_for_outbox(app, sink, expected, log_dir)
            inbound = db.session.get(InboundMessage, row_id)
            post = db.session.scalar(select(Post).where(Post.inbound_message_id == row_id))
            first_sent, last_sent = db.session.execute(
                select(func.min(OutboundEmail.sent_at), func.max(OutboundEmail.sent_at))).one()
            outcome = (inbound.status, inbound.outcome, post.status if post else None)
            processed_at = inbound.processed_at
            workers.wait_idle(get_queue())
            db.session.remove()
            cpu = (workers.cpu_seconds() - cpu_before[0], fanout.cpu_seconds(sink.process.pid) - cpu_before[1],
                   fanout.database_cpu_seconds() - database_before)
    except BaseException:
        workers.kill()
        raise
    workers.stop()
    elapsed = last_sent.timestamp() - started
    return {"elapsed": elapsed, "rate": expected / elapsed, "ms_per_message": elapsed * 1000 / expected,
            "receive_ms": (received - started) * 1000, "processed_ms": (processed_at.timestamp() - started) * 1000,
            "first_sent_ms": (first_sent.timestamp() - started) * 1000, "outcome": outcome,
            "sent": counts.get("sent", 0), "statuses": counts, "sink": sink.wait_for(expected),
            "cpu_ms": cpu[0] * 1000 / expected, "sink_cpu_ms": cpu[1] * 1000 / expected,
            "database_cpu_ms": cpu[2] * 1000 / expected}


# --- report --------------------------------------------------------------------------------------

def ratio(pair: dict) -> float:
    return pair["post"]["rate"] / pair["baseline"]["rate"]


def print_report(pairs: list[dict], args) -> None:
    ordered = sorted(pairs, key=ratio)
    median = ordered[len(ordered) // 2]
    post, baseline = median["post"], median["baseline"]
    expected = args.every
    print()
    print(f"conversation post: {args.members} members, {expected} on every message, {args.workers} "
          f"{args.worker_class} workers; baseline: the fan-out outbox to the same {expected} members")
    print(f"  post      {post['rate']:8.0f} msg/s  ({post['elapsed']:.2f} s from store.receive to the last copy sent)")
    print(f"  baseline  {baseline['rate']:8.0f} msg/s  ({baseline['elapsed']:.2f} s from queue_bulk to the last sent)")
    print(f"  the post's clock: received in {post['receive_ms']:.1f} ms, processed (post recorded, "
          f"{expected} rows queued) at {post['processed_ms']:.0f} ms, first copy sent at "
          f"{post['first_sent_ms']:.0f} ms; baseline's first sent at {baseline['first_sent_seconds'] * 1000:.0f} ms")
    print(f"  CPU ms per message: post workers {post['cpu_ms']:.2f} + sink {post['sink_cpu_ms']:.2f} + PostgreSQL "
          f"{post['database_cpu_ms']:.2f}; baseline workers {baseline['cpu_ms']:.2f} + sink "
          f"{baseline['sink_cpu_ms']:.2f} + PostgreSQL {baseline['database_cpu_ms']:.2f}")
    print(f"  inbound row and post: {post['outcome']}; statuses {post['statuses']}; sink counted {post['sink']} "
          f"(post) and {baseline['sink']} (baseline)")
    complete = all(p["post"]["sent"] == p["post"]["sink"] == expected == p["baseline"]["sent"]
                   and p["post"]["outcome"] == ("done", "post", "published") for p in pairs)
    fanout.print_verdicts([
        report.figure("post msg/s / fan-out outbox's", ratio(median), ">=", TARGET_RATIO,
                      baseline=f"fan-out outbox, same {expected} messages",
                      text=f"ratio post/fan-out >= {TARGET_RATIO} (median of {len(pairs)} pairs): {ratio(median):.2f} "
                           "(pairs: " + ", ".join(f"{ratio(p):.2f}" for p in pairs) + ")"),
        report.check("the post published, every copy sent and counted by the sink once", complete,
                     text=f"the post published, every copy sent and counted by the sink once ({expected})"),
    ])


# --- main ----------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=5000, help="members of the community (default 5,000)")
    parser.add_argument("--every", type=int, default=4000,
                        help="of them, on every message (default 4,000); the rest, the author among them, on the digest")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 members, 800 on every message, one pair")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--repeat", type=int, default=3, help="baseline/post pairs (the median is reported)")
    parser.add_argument("--worker-class", choices=("fork", "simple"), default="fork",
                        help="rq.Worker, forking a work-horse per job (what jobs.worker runs), or SimpleWorker")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_CONVERSATIONS")
    args, _others = parser.parse_known_args(argv)  # `make bench ARGS=...` passes the other benchmarks' too
    if args.quick:
        args.members, args.every, args.repeat = 1000, 800, 1
    if not 0 < args.every < args.members:
        parser.error("--every must be at least 1 and fewer than --members (the author reads the digest)")
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the workers and the sink are stopped too
    fanout.prepare_targets(args)
    sink = fanout.Sink()
    log_dir = Path(tempfile.mkdtemp(prefix="cop-bench-conversations-"))
    try:
        env, app = fanout.workers_app(args, sink, log_dir)
        community_id, author_id = build_state(app, args.members, args.every)
        context = fanout.digest_context()
        pairs = []
        for attempt in range(1, args.repeat + 1):
            print(f"pair {attempt} of {args.repeat}: the fan-out outbox, then the post ...", flush=True)
            baseline = fanout.run_outbox(app, sink, args.every, community_id, context, args, env, log_dir)
            post = run_post(app, sink, community_id, author_id, args.every, attempt, args, env, log_dir)
            pairs.append({"baseline": baseline, "post": post})
        print_report(pairs, args)
        print(f"worker logs: {log_dir}")
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
