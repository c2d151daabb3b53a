"""Engagement benchmark: who has gone quiet among 10,000 members, and one member's history page.

Seeds one community of 10,000 members (`--members`) with two years of
activity, written straight into PostgreSQL with generate_series: 24 monthly
meetings inviting everyone (half answer, a third attend), 8 forms sent to
everyone (two in five answered), 2,000 practices, 5,000 replies of every
status, and 30 emails per member in the outbox with 500 check-ins among them.
Then, timed after 3 warm-ups each (`--runs` times):

1. `engagement.gone_quiet(community)`, against a baseline that reads the same
   community's active members with the columns the list shows (the least any
   list of them costs). The computation is one grouped query per kind of
   activity, so target: p95 at most 5 times the baseline's.
2. A member's history page (GET through the Flask test client, logged in),
   each run another member, against the same member's edit page, the page
   the members list led to before (the same login, community and membership
   checks, no history). Target: p95 at most 3 times the edit page's. The
   login page's p95 is printed too, for scale.
3. The gone-quiet page (GET, its first page of 100 rows): p95 printed beside
   item 1's, no target.

It prints the figures and PASS/FAIL per target, and exits 0 whatever the
verdict. The database (`cop_bench_engage`) and Redis db (1) are its own:
it drops and rebuilds the schema.
"""
import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (database guard rails, schema reset and member set-up live there)
import report  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_engage"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
QUIET_TARGET = 5.0
PAGE_TARGET = 3.0
PASSWORD = "bench password 1234"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')

# Two years of a community's life, relative to now(); :c is the community, whose :n members have the ids from
# :first on (as fanout.create_members makes them). setseed makes it the same every run.
SEED_SQL = """
SELECT setseed(0.42);
INSERT INTO meeting (community_id, uid, sequence, title, agenda, agenda_html, agenda_plain, starts_at,
                     duration_minutes, location, video_url, status, created_at, updated_at)
SELECT :c, 'bench-' || n || '@bench', 0, 'Monthly call ' || n, '', '', '', now() - n * interval '30 days', 60, '',
       '', 'scheduled', now(), now()
FROM generate_series(0, 23) AS n;
INSERT INTO invitation (meeting_id, member_id, answer, note, answered_at, attended, created_at)
SELECT id, member_id, CASE WHEN r < 0.5 THEN 'yes' END, '',
       CASE WHEN r < 0.5 THEN starts_at - random() * interval '10 days' END,
       CASE WHEN r < 0.33 THEN true WHEN r < 0.5 THEN false END, starts_at - interval '14 days'
FROM (SELECT mt.id, mt.starts_at, ms.member_id, random() AS r FROM meeting mt
      JOIN membership ms ON ms.community_id = mt.community_id WHERE mt.community_id = :c) AS invited;
INSERT INTO form_request (community_id, kind, title, created_at)
SELECT :c, 'charter', 'Questions ' || n, now() - n * interval '90 days' FROM generate_series(0, 7) AS n;
INSERT INTO form_response (request_id, member_id, status, submitted_at, created_at, updated_at)
SELECT q.id, ms.member_id, CASE WHEN random() < 0.4 THEN 'submitted' ELSE 'requested' END, NULL, q.created_at,
       q.created_at
FROM form_request q JOIN membership ms ON ms.community_id = q.community_id WHERE q.community_id = :c;
UPDATE form_response SET submitted_at = created_at + random() * interval '20 days' WHERE status = 'submitted';
INSERT INTO practice (community_id, member_id, title, what_we_did, what_happened, contact_ok, source, status,
                      created_at)
SELECT :c, :first + floor(random() * :n)::int,
       'Practice ' || n, 'We tried something.', '', false, 'web', 'approved', now() - random() * interval '700 days'
FROM generate_series(1, 2000) AS n;
INSERT INTO inbound_message (received_at, via, envelope_to, envelope_from, message_id, raw, size, from_address,
                             subject, purpose, member_id, community_id, status, reason, text, detail, attempts)
SELECT now() - random() * interval '700 days', 'test', '', '', '<bench-' || n || '@bench>', '\\x00', 1, '',
       'Re: Monthly call', 'reply', :first + floor(random() * :n)::int, :c,
       (ARRAY['done', 'done', 'unclear', 'ignored', 'held'])[1 + floor(random() * 5)::int], '', '', '{}', 1
FROM generate_series(1, 5000) AS n;
INSERT INTO outbound_email (kind, community_id, member_id, recipient, idempotency_key, context, status, attempts,
                            created_at, updated_at, sent_at)
SELECT CASE WHEN k = 0 THEN 'meeting_invitation' ELSE 'digest' END, :c, m.id, m.email,
       'bench:' || m.id || ':' || k, '{}', 'sent', 1, now() - k * interval '20 days', now(),
       now() - k * interval '20 days'
FROM member m CROSS JOIN generate_series(0, 29) AS k;
INSERT INTO outbound_email (kind, community_id, member_id, recipient, idempotency_key, context, status, attempts,
                            created_at, updated_at)
SELECT 'check_in', :c, m.id, m.email, 'check_in:' || :c || ':' || m.id || ':' || 0, '{}', 'sent', 1,
       now() - random() * interval '90 days', now()
FROM member m ORDER BY m.id LIMIT 500;
ANALYZE;
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def seed(app, members: int) -> dict:
    """The community, its activity, and a coordinator account for it; ids the timings need."""
    from sqlalchemy import func, select, text
    from service.coordinators import create_coordinator
    from service.extensions import db
    from service.models import CommunityCoordinator, Membership
    community_id = fanout.create_members(app, members)
    with app.app_context():
        db.session.execute(text("UPDATE membership SET created_at = now() - interval '800 days'"))
        first = db.session.scalar(select(func.min(Membership.member_id)))
        for statement in SEED_SQL.split(";\n"):
            if statement.strip():
                db.session.execute(text(statement), {"c": community_id, "first": first, "n": members})
        coordinator = create_coordinator("bench@example.org", "Bench", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=community_id, coordinator_id=coordinator.id))
        db.session.commit()
        memberships = db.session.scalars(select(Membership.id).where(Membership.community_id == community_id)
                                         .order_by(Membership.id)).all()
    return {"community": community_id, "memberships": memberships}


def timed(call, runs: int, warm_ups: int = 3) -> list[float]:
    for _ in range(warm_ups):
        call(0)
    timings = []
    for run in range(runs):
        started = time.perf_counter()
        call(run)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def time_quiet(app, data: dict, runs: int) -> dict:
    """gone_quiet against reading the community's active members (item 1)."""
    from sqlalchemy import select
    from service import engagement
    from service.extensions import db
    from service.models import Community, Member, Membership, Organization
    with app.app_context():
        community = db.session.get(Community, data["community"])
        members_query = (select(Membership.id, Membership.member_id, Membership.name, Member.email,
                                Organization.name, Membership.created_at, Member.paused)
                         .join(Member, Member.id == Membership.member_id)
                         .outerjoin(Organization, Organization.id == Membership.organization_id)
                         .where(Membership.community_id == community.id, Membership.status == "active",
                                Member.status == "active"))
        found = {}
        baseline = timed(lambda _run: db.session.execute(members_query).all(), runs)
        quiet = timed(lambda _run: found.update(n=len(engagement.gone_quiet(community))), runs)
        return {"baseline": baseline, "quiet": quiet, "found": found["n"]}


def time_pages(app, data: dict, runs: int) -> dict:
    """The member history page against the member edit page and the login page; the gone-quiet page (2, 3)."""
    client = app.test_client()
    login_page = client.get("/login").get_data(as_text=True)
    match = CSRF_RE.search(login_page)
    response = client.post("/login", data={"csrf_token": match.group(1) or match.group(2),
                                           "email": "bench@example.org", "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    anonymous = app.test_client()
    memberships, community = data["memberships"], data["community"]

    def get(client_, url):
        answer = client_.get(url)
        assert answer.status_code == 200, (url, answer.status_code)

    stride = max(1, len(memberships) // (runs + 3))
    return {
        "login": timed(lambda _run: get(anonymous, "/login"), runs),
        "member": timed(lambda run: get(client, f"/communities/{community}/members/{memberships[run * stride]}"),
                        runs),
        "edit": timed(lambda run: get(client, f"/communities/{community}/members/{memberships[run * stride]}/edit"),
                      runs),
        "quiet_page": timed(lambda _run: get(client, f"/communities/{community}/gone-quiet"), runs),
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 2,000 members, 10 runs")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_ENGAGE")
    args, _others = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.members, args.runs = 2_000, 10
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fanout.prepare_targets(args)
    instance = tempfile.mkdtemp(prefix="cop-bench-engage-")
    os.environ.update({"DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url, "INSTANCE_DIR": instance})
    from service import create_app
    app = create_app({"RATELIMIT_ENABLED": False})
    fanout.reset_schema(app)
    print(f"seeding {args.members} members with two years of activity ...", flush=True)
    started = time.perf_counter()
    data = seed(app, args.members)
    print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
    quiet = time_quiet(app, data, args.runs)
    pages = time_pages(app, data, args.runs)
    p95 = {name: percentile(values, 0.95) for name, values in {**quiet, **pages}.items() if name != "found"}
    quiet_ratio = p95["quiet"] / p95["baseline"]
    page_ratio = p95["member"] / p95["edit"]
    print(f"\n{args.members} members, {quiet['found']} gone quiet; p95 over {args.runs} runs:")
    print(f"  reading the active members (baseline)  {p95['baseline']:8.1f} ms")
    print(f"  engagement.gone_quiet                  {p95['quiet']:8.1f} ms   ratio {quiet_ratio:.2f}")
    print(f"  login page                             {p95['login']:8.1f} ms")
    print(f"  a member's edit page (baseline)        {p95['edit']:8.1f} ms")
    print(f"  a member's history page                {p95['member']:8.1f} ms   ratio {page_ratio:.2f}"
          f" ({p95['member'] / p95['login']:.2f}x the login page)")
    print(f"  the gone-quiet page (100 rows)        {p95['quiet_page']:8.1f} ms")
    fanout.print_verdicts([
        report.figure("gone_quiet p95 / reading the members'", quiet_ratio, "<=", QUIET_TARGET,
                      baseline=f"reading the active members, {p95['baseline']:.1f} ms",
                      text=f"gone_quiet p95 at most {QUIET_TARGET:g}x reading the members ({quiet_ratio:.2f}x)"),
        report.figure("member history page p95 / edit page's", page_ratio, "<=", PAGE_TARGET,
                      baseline=f"a member's edit page, {p95['edit']:.1f} ms",
                      text=f"member history page p95 at most {PAGE_TARGET:g}x the member edit page's "
                           f"({page_ratio:.2f}x)"),
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
