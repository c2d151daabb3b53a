"""Long lists benchmark: the community page, the members list and the Outbox at 1,000 and at 10,000 members.

For each size, the schema is rebuilt and seeded with bulk SQL: one community
whose members belong to 50 organizations (a mix of roles, languages and
statuses: some inactive, unsubscribed, bounced, paused), its coordinator, and
three outbox rows per member (a welcome, an announcement, a meeting
invitation). Each page is fetched over HTTP from gunicorn (one sync worker,
one client with a keep-alive connection, as a browser would), logged in as
the coordinator, `--runs` times after 3 warm-ups; the baseline is the login
page, fetched logged out, in turn with the others in the same runs.

Targets: each page's median at most 3 times the login page's, and each
page's figure at 10,000 members at most 1.5 times its figure at 1,000, each
figure taken as a ratio to the login page measured beside it (the two sizes
run a minute apart, and on a shared machine the load between them moves
the milliseconds more than the members do; the raw ratio is printed too). A
search of the members list and of the Outbox is timed too, without a target:
a search for part of a word reads every row it may match.
It prints the figures and PASS/FAIL per target, and exits 0 whatever the
verdict. The database (`cop_bench_lists`) is its own: it drops and rebuilds
the schema. The pages enqueue nothing, so the Redis db (3) is only
connected to, never flushed.
"""
import argparse
import http.client
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (database guard rails, schema reset, member set-up and verdicts live there)
import gunicorn_server  # noqa: E402  (gunicorn on a free port)
import report  # noqa: E402
from explain import explain_pages  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_lists"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/3"
PASSWORD = "bench password 1234"
TARGET_OF_LOGIN = 3.0
TARGET_GROWTH = 1.5
ORGANIZATIONS = 50
TARGETED = ("community page", "members list", "outbox")
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def seed(app, members: int) -> dict:
    """The community, its coordinator, organizations and outbox rows, in bulk statements."""
    from sqlalchemy import insert, select, update
    from service.coordinators import create_coordinator
    from service.extensions import db
    from service.models import CommunityCoordinator, Meeting, Member, Membership, Organization, OutboundEmail
    community_id = fanout.create_members(app, members)
    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.execute(insert(Organization), [{"name": f"Organization {n}", "name_key": f"organization {n}",
                                                   "created_at": now} for n in range(ORGANIZATIONS)])
        org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
        member_ids = db.session.scalars(select(Member.id).order_by(Member.id)).all()
        for index, org_id in enumerate(org_ids):
            db.session.execute(update(Membership).where(Membership.member_id.in_(member_ids[index::len(org_ids)]))
                               .values(organization_id=org_id))
        for step, values in ((7, {"role": "facilitator"}), (97, {"role": "leader"}), (11, {"status": "inactive"})):
            db.session.execute(update(Membership).where(Membership.member_id.in_(member_ids[::step])).values(**values))
        for step, values in ((13, {"status": "unsubscribed"}), (17, {"status": "bounced"}), (19, {"paused": True})):
            db.session.execute(update(Member).where(Member.id.in_(member_ids[3::step])).values(**values))
        coordinator = create_coordinator("bench@example.org", "Bench", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=community_id, coordinator_id=coordinator.id))
        meeting = Meeting(community_id=community_id, uid="bench-lists@bench", title="Monthly call",
                          starts_at=now + timedelta(days=7))
        db.session.add(meeting)
        db.session.flush()
        people = db.session.execute(select(Member.id, Member.email).order_by(Member.id)).all()
        contexts = {"welcome": {}, "announcement": {"subject": "June agenda", "body": "See you on Tuesday."},
                    "meeting_invitation": {"meeting_id": meeting.id}}
        for kind, context in contexts.items():
            rows = [{"kind": kind, "community_id": community_id, "member_id": member_id, "recipient": email,
                     "idempotency_key": f"{kind}:{member_id}", "context": context, "status": "sent",
                     "attempts": 1, "created_at": now, "updated_at": now, "sent_at": now}
                    for member_id, email in people]
            for start in range(0, len(rows), 5000):
                db.session.execute(insert(OutboundEmail), rows[start:start + 5000])
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("VACUUM ANALYZE")
        return {"community": community_id, "organization": org_ids[0]}


class Browser:
    """One keep-alive HTTP connection to the server, carrying its cookies as a browser would."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, body: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, url, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, data

    def login(self) -> None:
        _status, page = self.request("GET", "/login")
        match = CSRF_RE.search(page.decode())
        status, _data = self.request("POST", "/login", urlencode({
            "csrf_token": match.group(1) or match.group(2), "email": "bench@example.org", "password": PASSWORD}))
        assert status == 302, status

    def timed_get(self, url: str, expect: bytes) -> float:
        started = time.perf_counter()
        status, data = self.request("GET", url)
        elapsed = (time.perf_counter() - started) * 1000
        assert status == 200 and expect in data, (url, status)
        return elapsed


def measure(port: int, data: dict, runs: int) -> dict[str, float]:
    """Median ms per page through the server: the login page (logged out) and each list page (logged in).

    The pages are fetched in turn within each run, so the login page and the
    lists share whatever else the machine is doing at the time.
    """
    community = data["community"]
    pages = {
        "login page": ("/login", b"csrf_token"),
        "community page": (f"/communities/{community}", b"Search, filter and sort all"),
        "members list": (f"/communities/{community}/members/", b"Page 1 of"),
        "members search": (f"/communities/{community}/members/?q=garc%C3%ADa&status=active&sort=organization",
                           b"members match"),
        "outbox": ("/outbox/", b"Invitation: Monthly call"),
        "outbox search": ("/outbox/?q=member12", b"emails match"),
    }
    visitor, coordinator = Browser(port), Browser(port)
    coordinator.login()
    timings = {name: [] for name in pages}
    for run in range(3 + runs):  # 3 warm-ups
        for name, (url, expect) in pages.items():
            elapsed = (visitor if name == "login page" else coordinator).timed_get(url, expect)
            if run >= 3:
                timings[name].append(elapsed)
    return {name: statistics.median(values) for name, values in timings.items()}


def explain(app, data: dict, profile: bool) -> None:
    """Each page's SQL statements with their times, and with `profile` where its time went (bench/explain.py)."""
    from tests.conftest import login
    client = app.test_client()
    login(client, "bench@example.org", PASSWORD)
    community = data["community"]
    explain_pages(app, client, (f"/communities/{community}", f"/communities/{community}/members/", "/outbox/"),
                  profile=profile)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="members per run, smallest first")
    parser.add_argument("--runs", type=int, default=30, help="timed GETs of each page")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 10 GETs of each page")
    parser.add_argument("--explain", action="store_true", help="print each page's SQL statements and their times")
    parser.add_argument("--profile", action="store_true", help="with --explain, where each page's time goes")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_LISTS")
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.runs = 10
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fanout.prepare_targets(args)
    log_dir = Path(tempfile.mkdtemp(prefix="cop-bench-lists-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "RATELIMIT_ENABLED": "false", "SECRET_KEY": "bench-lists-secret-key-0123456789abcdef",
           "INSTANCE_DIR": str(log_dir / "instance"), "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    from service import create_app
    app = create_app()
    sizes = [int(size) for size in args.sizes.split(",")]
    figures = {}
    for size in sizes:
        fanout.reset_schema(app)
        started = time.perf_counter()
        data = seed(app, size)
        print(f"seeded {size} members and {3 * size} outbox rows in {time.perf_counter() - started:.1f} s",
              flush=True)
        if args.explain:
            explain(app, data, args.profile)
        server = gunicorn_server.Server(env, workers=1, threads=1, log_dir=log_dir)
        try:
            figures[size] = measure(server.port, data, args.runs)
        finally:
            server.stop()

    print(f"\nmedian of {args.runs} GETs over HTTP, ms")
    names = list(figures[sizes[0]])
    print(f"{'page':<16}" + "".join(f"{size:>10}" for size in sizes))
    for name in names:
        print(f"{name:<16}" + "".join(f"{figures[size][name]:>10.1f}" for size in sizes))
    verdicts = []
    targeted = [name for name in names if name in TARGETED]  # the searches are printed for what they cost
    for size in sizes:
        login = figures[size]["login page"]
        for name in targeted:
            ratio = figures[size][name] / login
            verdicts.append(report.figure(f"{name} at {size} / login page", ratio, "<=", TARGET_OF_LOGIN,
                                          baseline=f"login page, {login:.1f} ms",
                                          text=f"{name} at {size}: {ratio:.2f} x the login page <= {TARGET_OF_LOGIN}"))
    small, large = sizes[0], sizes[-1]
    for name in targeted:  # each size's figure as a ratio to its own login page, so a busier machine cancels out
        growth = (figures[large][name] / figures[large]["login page"]) / (
            figures[small][name] / figures[small]["login page"])
        raw = figures[large][name] / figures[small][name]
        verdicts.append(report.figure(f"{name}: {large} / {small} members", growth, "<=", TARGET_GROWTH,
                                      baseline="each size's login page",
                                      text=f"{name}: {large} / {small} members = {growth:.2f} <= {TARGET_GROWTH} "
                                           f"(each against its login page; {raw:.2f} in milliseconds)"))
    fanout.print_verdicts(verdicts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
