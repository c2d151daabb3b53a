"""Member traffic during a fan-out: 50 members using their email links through gunicorn while a 10,000-member
lesson digest goes out on the same machine.

Everything runs as deployed, in processes of its own: gunicorn with
deploy/gunicorn.conf.py (its worker class and count, APP_ENV=production, one
proxy trusted as behind nginx), `--workers` `python -m jobs.worker` processes
with their scheduler, PostgreSQL, Redis, and an SMTP sink (bench/fanout.py's)
standing in for the relay. The community's digest is due; the fan-out starts
the way the product starts it: `python -m jobs.cron` is started, its tick job
runs `service.digests.tick` on a worker, which queues one copy per member,
and the workers deliver them.

Meanwhile `--members` members (bench/member_journey.py), each in a thread
with its own connection and cookie jar, follow their own links, made with
the service's own link and token functions: the meeting-feedback form (GET,
then POST with the page's CSRF token), the meeting's RSVP page (GET with the
email's ?answer=, then the one-tap POST) and the preferences page. Phases,
one run: warm-up, quiet (workers idle), fan-out (from the cron process's
start to the last copy sent), after (idle again); each idle phase lasts
`--quiet-seconds` and until every page has `--quiet-requests` requests. The
"quiet" figure is both idle phases together, so a machine whose speed drifts
meanwhile (other work on it) shows in the before/after column instead of in
the ratio.

Printed per page: requests, errors, p50 and p95 quiet, p95 during the
fan-out, the ratio; target: no errors and a ratio of at most 3. Then the
fan-out's duration and whether every copy was sent and reached the sink, and
per phase the CPU each group of processes took and what PostgreSQL waited on
(bench/process_share.py), which is where to look when a page fails.

Rate limiting is switched off in the bench server (RATELIMIT_ENABLED=false):
every member here connects from this one machine and a closed loop clicks far
faster than 60 links a minute, which real members, each from their own
address, never do. The database (`cop_bench_traffic`) and the Redis db (5) are
the benchmark's own: it drops and rebuilds the schema and flushes that db. It
exits 0 whatever the verdict.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import fanout  # noqa: E402  (targets, sink, schema reset and member set-up live there)
import report  # noqa: E402
from member_journey import PAGES, Crowd, Links, PageFigures, summary  # noqa: E402
from process_share import CpuShare, LockSampler, descendants, describe_cpu  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_traffic"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/5"
TARGET_RATIO = 3.0
HOST = "cop.bench.example"
# Give up when no digest copy has finished for this long: longer than MAIL_SENDING_TIMEOUT (300 s) and a
# sweep (60 s), after which rows a dead job left `sending` are taken back and sent again.
STALL_SECONDS = 420


# --- the community ---------------------------------------------------------------------------------

def seed(app, size: int, traffic: int) -> dict:
    """`size` members with the built-in lesson's digest due now; `traffic` of them with a feedback form to
    fill and a meeting to answer; each of those members' links."""
    from sqlalchemy import insert, select
    from service import lesson_files
    from service.extensions import db
    from service.form_requests import form_url
    from service.links import token_url
    from service.meeting_emails import rsvp_links
    from service.models import Community, FormRequest, FormResponse, Invitation, Meeting, Member
    from service.tokens import make_token
    community_id = fanout.create_members(app, size)
    now = datetime.now(timezone.utc)
    with app.app_context():
        community = db.session.get(Community, community_id)
        community.lesson_id = lesson_files.load_lesson_dir(lesson_files.BUILT_IN_LESSON_DIR).id
        local = now.astimezone(ZoneInfo(community.time_zone))
        community.digest_cadence, community.digest_weekday, community.digest_hour = "weekly", local.weekday(), local.hour
        community.digest_enabled, community.digest_enabled_at = True, now - timedelta(hours=2)  # this hour's slot is due
        past = Meeting(community_id=community_id, uid="bench-traffic-past@bench", title_en="Monthly call",
                       starts_at=now - timedelta(days=2))
        upcoming = Meeting(community_id=community_id, uid="bench-traffic-next@bench", title_en="Next monthly call",
                           starts_at=now + timedelta(days=14), agenda="A round of wins, then volunteer retention.")
        db.session.add_all([past, upcoming])
        db.session.flush()
        feedback = FormRequest(community_id=community_id, kind="feedback", meeting_id=past.id,
                               title_en="Feedback: Monthly call")
        db.session.add(feedback)
        db.session.flush()
        members = db.session.scalars(select(Member).order_by(Member.id).limit(traffic)).all()
        db.session.execute(insert(FormResponse), [{"request_id": feedback.id, "member_id": m.id, "status": "requested",
                                                   "created_at": now, "updated_at": now} for m in members])
        db.session.execute(insert(Invitation), [{"meeting_id": upcoming.id, "member_id": m.id, "created_at": now}
                                                for m in members])
        db.session.commit()
        responses = {r.member_id: r for r in db.session.scalars(select(FormResponse))}
        links = []
        for number, member in enumerate(members):
            urls = (form_url(responses[member.id]), rsvp_links(upcoming, member)["page"],
                    token_url("member_links.preferences", make_token("preferences", member.id)))
            form, rsvp, preferences = (_path(url) for url in urls)
            links.append(Links(form, rsvp, preferences, address=f"198.51.100.{number % 250 + 1}"))
        return {"community": community_id, "links": links, "size": size}


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


# --- the processes ---------------------------------------------------------------------------------

class Processes:
    """gunicorn, the workers and (when the fan-out starts) the cron process; each logs to a file of its own."""

    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir = env, log_dir
        self.running: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, command: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(self.log_dir / f"{name}.log", "ab")
        process = subprocess.Popen(command, cwd=ROOT, env=env or self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()  # the child has its own copy
        self.running.append((name, process))
        return process

    def web(self, port: int) -> subprocess.Popen:
        env = {**self.env, "BIND": f"127.0.0.1:{port}"}
        process = self.start("gunicorn", [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"], env)
        wait_until(lambda: _healthy(port), 60, process, "gunicorn", self.log_dir)
        return process

    def workers(self, count: int, app) -> list[subprocess.Popen]:
        from rq import Worker
        from service.queue import get_queue
        started = [self.start(f"worker-{n}", [sys.executable, "-m", "jobs.worker"]) for n in range(count)]
        with app.app_context():
            queue = get_queue()
            for process in started:
                wait_until(lambda: len(Worker.all(queue=queue)) >= count, 90, process, "the workers", self.log_dir)
        return started

    def stop(self) -> None:
        """SIGTERM to each (warm shutdown for RQ, graceful for gunicorn), then wait; kill what lingers."""
        for _name, process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process in self.running:
            try:
                process.wait(45)
            except subprocess.TimeoutExpired:  # e.g. a worker whose work-horse is still in a long batch
                for pid in [*descendants(process.pid), process.pid]:
                    with suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                process.wait()


def _healthy(port: int) -> bool:
    import http.client
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/healthz")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def wait_until(ready, timeout: float, process: subprocess.Popen, what: str, log_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited (code {process.returncode}); see {log_dir}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start in {timeout:.0f} s; see {log_dir}")
        time.sleep(0.2)


# --- the fan-out -----------------------------------------------------------------------------------

def wait_for_fanout(app, expected: int, started: float, limit: float) -> dict:
    """Once every digest copy is sent or failed (or none finished for STALL_SECONDS, or `limit` seconds passed):
    statuses, whether it finished, when the rows were queued and the last one sent."""
    from sqlalchemy import func, select
    from service.extensions import db
    from service.models import OutboundEmail
    digest = OutboundEmail.kind.in_(("digest", "digest_organization"))
    progress, progress_at = -1, time.monotonic()
    while True:
        time.sleep(1)  # a GROUP BY every second costs the workers little
        with app.app_context(), db.engine.connect() as connection:
            counts = dict(connection.execute(select(OutboundEmail.status, func.count()).where(digest)
                                             .group_by(OutboundEmail.status)).all())
            done = counts.get("sent", 0) + counts.get("failed", 0)
            if done != progress:
                progress, progress_at = done, time.monotonic()
            gave_up = time.monotonic() - progress_at > STALL_SECONDS or time.time() - started > limit
            if done >= expected or (gave_up and done):
                queued_from, queued_to, last_sent = connection.execute(select(
                    func.min(OutboundEmail.created_at), func.max(OutboundEmail.created_at),
                    func.max(OutboundEmail.sent_at)).where(digest)).one()
                every_sent = connection.scalar(select(func.count()).where(OutboundEmail.status == "sent"))
                return {"statuses": counts, "finished": done >= expected,
                        "queued_after": queued_from.timestamp() - started,
                        "queued_in": (queued_to - queued_from).total_seconds(),
                        "elapsed": last_sent.timestamp() - started, "sent_all_kinds": every_sent}
        if gave_up:
            raise RuntimeError(f"the fan-out sent nothing in {time.time() - started:.0f} s: {counts}")


# --- report ----------------------------------------------------------------------------------------

def merged(*phases: dict[str, PageFigures]) -> dict[str, PageFigures]:
    result = {}
    for page in PAGES:
        figures = PageFigures()
        for phase in phases:
            figures.requests += phase[page].requests
            figures.errors += phase[page].errors
            figures.latencies += phase[page].latencies
            figures.first_errors += phase[page].first_errors
        result[page] = figures
    return result


def print_report(crowd: Crowd, fan: dict, expected: int, sink_count: int, cpu: dict, locks: LockSampler,
                 args, setup: str) -> None:
    before, during, after = (summary(crowd.records, phase) for phase in ("quiet", "fan-out", "after"))
    quiet = merged(before, after)
    print(f"\n{setup}")
    header = (f"{'page':<16} {'requests q/f':>13} {'errors':>6} {'p50 quiet':>10} {'p95 quiet':>10} "
              f"{'p95 fan-out':>12} {'ratio':>6}  {'p95 before/after':>16}  verdict")
    print(header)
    print("-" * len(header))
    verdicts = []
    for page in PAGES:
        q, f = quiet[page], during[page]
        errors = q.errors + f.errors
        ratio = f.p95 / q.p95 if q.latencies and f.latencies else float("nan")
        text, ok = report.figure(f"{page} p95 during fan-out / quiet", ratio, "<=", TARGET_RATIO,
                                 baseline=f"p95 quiet {q.p95:.1f} ms",
                                 text=f"{page}: errors {errors}, p95 during the fan-out {ratio:.2f} x quiet "
                                      f"<= {TARGET_RATIO:.0f}")
        verdicts.append(report.check(f"{page}: no errors", errors == 0))
        ok = ok and errors == 0 and bool(f.latencies)
        verdicts.append((text, ok))
        print(f"{page:<16} {q.requests:>6}/{f.requests:<6} {errors:>6} {q.p50:>8.1f}ms {q.p95:>8.1f}ms "
              f"{f.p95:>10.1f}ms {ratio:>6.2f}  {before[page].p95:>7.1f}/{after[page].p95:<7.1f}ms  "
              f"{'PASS' if ok else 'FAIL'}" + (f"  e.g. {(q.first_errors + f.first_errors)[:2]}" if errors else ""))
    finished = "" if fan["finished"] else f" (NOT FINISHED: stopped waiting after {args.max_fanout_seconds:.0f} s)"
    rate = (fan["statuses"].get("sent", 0) + fan["statuses"].get("failed", 0)) / fan["elapsed"]
    print(f"\nfan-out{finished}: {expected} digest copies; jobs.cron started at 0 s, rows queued from "
          f"{fan['queued_after']:.1f} s (over {fan['queued_in']:.1f} s), last sent at {fan['elapsed']:.1f} s "
          f"({rate:.0f} msg/s); statuses {fan['statuses']}; the sink counted {sink_count} messages, "
          f"{fan['sent_all_kinds']} outbox rows of any kind sent"
          + (f" ({sink_count - fan['sent_all_kinds']} more than recorded sent: a job that died after sending "
             "without recording it, whose rows were sent again)" if sink_count > fan["sent_all_kinds"] else ""))
    complete = fan["statuses"].get("sent", 0) == expected and sink_count == fan["sent_all_kinds"] >= expected
    verdicts.append((f"every digest copy sent ({fan['statuses'].get('sent', 0)} of {expected}) and received "
                     f"by the sink ({sink_count} of {fan['sent_all_kinds']} sent rows)",
                     report.check("every digest copy sent once", complete)[1]))
    print("\nwhere the CPU went (cores busy on average; 'other processes' is the rest of the machine):")
    for phase, spent in cpu.items():
        print(f"  {phase:<8} {describe_cpu(*spent)}")
    print("PostgreSQL, sampled every 0.5 s (this database's client backends):")
    for phase in cpu:
        print(f"  {phase:<8} {locks.describe(phase)}")
    fanout.print_verdicts(verdicts)


# --- main ------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, help="members the digest goes to (default 10,000; 1,000 with --quick)")
    parser.add_argument("--members", type=int, default=50, help="concurrent members clicking (default 50)")
    parser.add_argument("--quiet-seconds", type=float, default=30.0,
                        help="length of each idle phase, before and after the fan-out (default 30)")
    parser.add_argument("--quiet-requests", type=int, default=100,
                        help="and until each page has this many requests in that phase (default 100)")
    parser.add_argument("--warm-up-seconds", type=float, default=5.0)
    parser.add_argument("--think-seconds", type=float, default=0.0,
                        help="pause between one member's clicks (default 0: a closed loop, the hardest case)")
    parser.add_argument("--workers", type=int, default=2, help="`python -m jobs.worker` processes (default 2)")
    parser.add_argument("--max-fanout-seconds", type=float, default=1800.0,
                        help="stop waiting for the fan-out after this long and report it unfinished (default 1800)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 members, 8 s idle phases")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_TRAFFIC")
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.quiet_seconds, args.warm_up_seconds, args.quiet_requests = 8.0, 3.0, 40
    args.size = args.size or (1000 if args.quick else 10_000)
    return args


def idle_phase(crowd: Crowd, args) -> None:
    """At least `quiet_seconds`, and until each page has `quiet_requests` requests (at most 10 minutes):
    on a busy machine a journey takes long enough that a fixed time gives too few to compare."""
    started = time.monotonic()
    while time.monotonic() - started < args.quiet_seconds or (
            crowd.fewest(crowd.phase) < args.quiet_requests and time.monotonic() - started < 600):
        time.sleep(0.5)


def bench_env(args, sink_port: int, log_dir: Path) -> dict:
    """The settings of every process here: production's, pointed at this machine's servers and sink."""
    return {**os.environ, "APP_ENV": "production", "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
            "SECRET_KEY": "bench-traffic-secret-key-0123456789abcdef", "PUBLIC_BASE_URL": f"https://{HOST}",
            "MAIL_DEFAULT_SENDER": "COP <cop@bench.example>", "INBOUND_DOMAIN": "reply.bench.example",
            "POSTAL_ADDRESS": "Bench Organization, 1 Test Road, Springfield", "PROXY_COUNT": "1",
            "RATELIMIT_ENABLED": "false", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(sink_port),
            "INSTANCE_DIR": str(log_dir / "instance"), "PYTHONPATH": str(ROOT)}


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers, workers and sink stop too
    fanout.prepare_targets(args)
    log_dir = Path(tempfile.mkdtemp(prefix="cop-bench-traffic-"))
    sink = fanout.Sink()
    env = bench_env(args, sink.port, log_dir)
    os.environ.update(env)  # this process's app reads the same settings as the servers'
    processes = Processes(env, log_dir)
    crowd = sampler = None
    try:
        from redis import Redis
        from sqlalchemy import create_engine
        from service import create_app
        app = create_app()
        Redis.from_url(args.redis_url).flushdb()
        fanout.reset_schema(app)
        print(f"seeding {args.size} members, {args.members} of them with a form and an invitation ...", flush=True)
        data = seed(app, args.size, args.members)
        port = fanout.free_port()
        web = processes.web(port)
        workers = processes.workers(args.workers, app)
        sampler = LockSampler(create_engine(app.config["SQLALCHEMY_DATABASE_URI"]))
        sampler.start()
        crowd = Crowd(port, HOST, data["links"], args.think_seconds)
        share = CpuShare({"gunicorn": [web.pid], "RQ workers": [w.pid for w in workers],
                          "SMTP sink": [sink.process.pid]})
        cpu = {}
        crowd.start()
        time.sleep(args.warm_up_seconds)
        share.mark()
        crowd.phase = sampler.phase = "quiet"
        print(f"quiet: {args.quiet_seconds:.0f} s and {args.quiet_requests} requests of each page ...", flush=True)
        idle_phase(crowd, args)
        cpu["quiet"] = share.mark(), share.waited
        crowd.phase = sampler.phase = "fan-out"
        started = time.time()
        share.groups["cron"] = [processes.start("cron", [sys.executable, "-m", "jobs.cron"]).pid]
        print(f"fan-out to {args.size} members, started by jobs.cron ...", flush=True)
        fan = wait_for_fanout(app, args.size, started, args.max_fanout_seconds)
        cpu["fan-out"] = share.mark(), share.waited
        if fan["finished"]:  # (unfinished, the workers go on delivering: no idle phase to measure after it)
            crowd.phase = sampler.phase = "after"
            print(f"fan-out done in {fan['elapsed']:.0f} s; idle again ...", flush=True)
            idle_phase(crowd, args)
            cpu["after"] = share.mark(), share.waited
        crowd.phase = sampler.phase = "done"
        crowd.stop()
        sampler.stop()
        sink_count = sink.wait_for(fan["sent_all_kinds"])
        gunicorn_workers = len(Path(f"/proc/{web.pid}/task/{web.pid}/children").read_text().split())
        setup = (f"{args.members} members (own connection and cookie jar each, think time {args.think_seconds:g} s) "
                 f"through gunicorn -c deploy/gunicorn.conf.py ({gunicorn_workers} workers), {args.workers} "
                 f"jobs.worker processes with their scheduler, jobs.cron; PostgreSQL, Redis; digest to "
                 f"{args.size} members into a local SMTP sink. Rate limits off in this server only.")
        print_report(crowd, fan, args.size, sink_count, cpu, sampler, args, setup)
        print(f"logs: {log_dir}")
    finally:
        if crowd is not None and crowd.phase != "done":
            crowd.stop()
        if sampler is not None:
            sampler.stop()
        processes.stop()
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
