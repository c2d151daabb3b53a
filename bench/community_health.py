"""Health benchmark: the dashboard's overview of 50 communities (50,000 members in all) and one community's
24-month health page, through gunicorn, against the login page in the same run.

Seeded with bulk SQL (PostgreSQL): 50 communities of 1,000 members each, one
coordinator holding all of them, and 24 months of history in each: a meeting
a month with every member invited (60 % answer, 30 % attend where attendance
was taken), feedback from half of those who came (two ratings and a text
each), practices, replies, bounces and unsubscribes in the audit trail among
unrelated audit events, and outbox rows with a few failed.

gunicorn (gthread) serves the app on a free localhost port; one keep-alive
client GETs the three pages in turn, `--rounds` times after warm-ups, so the
machine's drift falls on all three alike: the login page (the baseline, not
logged in), the dashboard `/` and `/communities/<id>/health/`. Target: the
p95 of each page at most 3 times the login page's p95. With `--explain` it
also prints each of the pages' SQL statements with its time, from one
in-process rendering.

It prints the figures and PASS/FAIL per target, and exits 0 whatever the
verdict. The database (`cop_bench_health`) and the Redis db (1) are its own:
it drops and rebuilds the schema and flushes that Redis db.
"""
import argparse
import http.client
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (guard rails, schema reset, verdicts)
import forms_review  # noqa: E402  (the percentile)
import gunicorn_server  # noqa: E402
import report  # noqa: E402
from explain import explain_pages  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_health"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"
TARGET_RATIO = 3.0
PASSWORD = "bench password 1234"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')

# Every statement is plain SQL over generate_series: 50,000 members and their history in seconds.
SEED = """
INSERT INTO community (name, description, time_zone, stage, digest_cadence, created_at)
SELECT 'Community ' || n, '', 'America/Chicago', (ARRAY['forming', 'defining', 'managing', 'sustaining'])[1 + n % 4],
       'monthly', now() - interval '800 days'
FROM generate_series(1, :communities) AS n;

INSERT INTO member (email, name, language, digest_frequency, status, created_at)
SELECT 'member' || n || '@example.org', 'Member ' || n, 'en', 'weekly',
       CASE WHEN n % 97 = 0 THEN 'bounced' WHEN n % 89 = 0 THEN 'unsubscribed' ELSE 'active' END, now()
FROM generate_series(1, :members) AS n;

INSERT INTO membership (community_id, member_id, name, language, role, status, created_at)
SELECT (m.id - 1) % :communities + 1, m.id, m.name, 'en', 'member', 'active', now() - interval '800 days' + m.id * interval '20 minutes'
FROM member AS m;

INSERT INTO meeting (community_id, uid, sequence, title, agenda, agenda_html, agenda_plain, starts_at,
                     duration_minutes, location, video_url, status, attendance_taken_at, created_at, updated_at)
SELECT c.id, 'bench-' || c.id || '-' || k || '@bench', 0, 'Call ' || k, '', '', '',
       date_trunc('month', now()) - make_interval(months => k) + interval '14 days 17 hours', 60, '', '',
       CASE WHEN k = 5 THEN 'cancelled' ELSE 'scheduled' END,
       CASE WHEN k > 0 THEN date_trunc('month', now()) - make_interval(months => k) + interval '14 days 19 hours' END,
       now(), now()
FROM community AS c, generate_series(0, :months - 1) AS k;

INSERT INTO invitation (meeting_id, member_id, answer, note, answered_at, attended, created_at)
SELECT t.id, s.member_id,
       CASE WHEN r < 350 THEN 'yes' WHEN r < 500 THEN 'maybe' WHEN r < 600 THEN 'no' END, '',
       CASE WHEN r < 600 THEN t.starts_at - interval '4 days' + r * interval '5 minutes' END,
       CASE WHEN t.attendance_taken_at IS NOT NULL THEN r < 300 END, t.created_at
FROM meeting AS t JOIN membership AS s ON s.community_id = t.community_id
CROSS JOIN LATERAL (SELECT (s.member_id * 7919 + t.id * 104729) % 1000 AS r) AS x;

INSERT INTO form_request (community_id, kind, meeting_id, title, created_at)
SELECT community_id, 'feedback', id, 'Feedback: ' || title, starts_at FROM meeting WHERE attendance_taken_at IS NOT NULL;

INSERT INTO form_response (request_id, member_id, status, submitted_at, created_at, updated_at)
SELECT q.id, i.member_id, 'submitted', t.starts_at + interval '1 day', t.starts_at, t.starts_at
FROM form_request AS q JOIN meeting AS t ON t.id = q.meeting_id
JOIN invitation AS i ON i.meeting_id = t.id AND i.attended AND (i.member_id / :communities) % 2 = 0;

INSERT INTO form_answer (response_id, question, value_int, value_text)
SELECT id, 'usefulness', 1 + id % 5, NULL FROM form_response
UNION ALL SELECT id, 'recommend', id % 11, NULL FROM form_response
UNION ALL SELECT id, 'what_worked', NULL, 'Hearing how the others run their pantry' FROM form_response;

INSERT INTO practice (community_id, member_id, title, what_we_did, what_happened, contact_ok, source, status,
                      created_at)
SELECT c.id, c.id + :communities * ((k * 37) % (:members / :communities)), 'Practice ' || k, 'What we did', '', false, 'email', 'approved',
       now() - k * interval '5 days'
FROM community AS c, generate_series(0, :months * 6) AS k;

INSERT INTO inbound_message (received_at, via, envelope_to, envelope_from, message_id, raw, size, from_address,
                             subject, purpose, member_id, community_id, status, reason, text, detail, attempts)
SELECT now() - k * interval '1 day' - c.id * interval '1 minute', 'test', '', '',
       '<bench-' || c.id || '-' || k || '@bench>', ''::bytea, 0, '', 'Re: our call',
       CASE WHEN k % 10 = 0 THEN 'bounce' ELSE 'reply' END, c.id + :communities * ((k * 53) % (:members / :communities)),
       c.id,
       CASE WHEN k % 7 = 0 THEN 'ignored' WHEN k % 40 = 1 THEN 'unclear' ELSE 'done' END, '', '', '{}', 0
FROM community AS c, generate_series(0, :months * 30) AS k;

INSERT INTO audit_event (created_at, actor, action, object_type, object_id, community_id, details)
SELECT now() - n * interval '17 minutes', 'system',
       CASE WHEN n % 50 = 0 THEN 'member.bounced' WHEN n % 50 = 1 THEN 'member.unsubscribe' ELSE 'member.update' END,
       'member', (n / 50 * 7919) % :members + 1, NULL, '{}'
FROM generate_series(1, :audit_events) AS n;

INSERT INTO outbound_email (kind, community_id, member_id, recipient, idempotency_key, context, status, attempts,
                            created_at, updated_at, sent_at)
SELECT 'meeting_invitation', s.community_id, s.member_id, 'member' || s.member_id || '@example.org',
       'bench:' || k || ':' || s.member_id, '{}', CASE WHEN (s.member_id + k) % 500 = 0 THEN 'failed' ELSE 'sent' END,
       1, now() - k * interval '30 days', now() - k * interval '30 days', now() - k * interval '30 days'
FROM membership AS s, generate_series(0, :outbox_months - 1) AS k;
"""


def seed(app, args) -> dict:
    """The communities, members and history above, and the coordinator of all of them."""
    from sqlalchemy import func, insert, select, text
    from service.coordinators import create_coordinator
    from service.extensions import db
    from service.models import Community, CommunityCoordinator, FormAnswer, Invitation
    values = {"communities": args.communities, "members": args.members, "months": args.months,
              "audit_events": args.audit_events, "outbox_months": args.outbox_months}
    with app.app_context():
        for statement in SEED.split(";\n"):
            if statement.strip():
                db.session.execute(text(statement), {k: v for k, v in values.items() if f":{k}" in statement})
        coordinator = create_coordinator("bench@example.org", "Bench", PASSWORD)
        db.session.flush()
        ids = db.session.scalars(select(Community.id).order_by(Community.id)).all()
        db.session.execute(insert(CommunityCoordinator), [{"community_id": community_id,
                                                           "coordinator_id": coordinator.id, "role": "coordinator"}
                                                          for community_id in ids])
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return {"community": ids[0], "invitations": db.session.scalar(select(func.count()).select_from(Invitation)),
                "answers": db.session.scalar(select(func.count()).select_from(FormAnswer))}


# --- timing through gunicorn -----------------------------------------------------------------------

def _get(connection, path: str, cookie: str | None = None) -> tuple[int, str, http.client.HTTPResponse]:
    connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8"), response


def _session_cookie(response) -> str:
    return "; ".join(value.split(";", 1)[0] for value in response.msg.get_all("Set-Cookie") or []
                     if value.startswith("session="))


def log_in(port: int) -> str:
    """The session cookie of the coordinator, logged in through the login form."""
    from urllib.parse import urlencode
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    _status, page, response = _get(connection, "/login")
    match = CSRF_RE.search(page)
    body = urlencode({"csrf_token": match.group(1) or match.group(2), "email": "bench@example.org",
                      "password": PASSWORD})
    connection.request("POST", "/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": _session_cookie(response)})
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 302, answer.status
    connection.close()
    return _session_cookie(answer)


def time_pages(port: int, pages: dict[str, tuple[str, str | None, str]], rounds: int, warm_up: int) -> dict:
    """Milliseconds per GET of each page, the pages taken in turn round after round on keep-alive connections."""
    connections = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=60) for name in pages}
    timings: dict[str, list[float]] = {name: [] for name in pages}
    for number in range(warm_up + rounds):
        for name, (path, cookie, expect) in pages.items():
            started = time.perf_counter()
            status, body, _response = _get(connections[name], path, cookie)
            elapsed = (time.perf_counter() - started) * 1000
            if status != 200 or expect not in body:
                raise RuntimeError(f"{path} answered {status} without {expect!r}")
            if number >= warm_up:
                timings[name].append(elapsed)
    for connection in connections.values():
        connection.close()
    return timings


def explain(app, community_id: int) -> None:
    """Each SQL statement the two pages run, with its time, from one rendering in this process."""
    from tests.conftest import login
    client = app.test_client()
    login(client, "bench@example.org", PASSWORD)
    explain_pages(app, client, ("/", f"/communities/{community_id}/health/"), width=150)


# --- main ------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--communities", type=int, default=50)
    parser.add_argument("--members", type=int, default=50_000, help="members in all, shared out evenly")
    parser.add_argument("--months", type=int, default=24, help="months of history per community")
    parser.add_argument("--audit-events", type=int, default=200_000)
    parser.add_argument("--outbox-months", type=int, default=6, help="an invitation per member per month")
    parser.add_argument("--rounds", type=int, default=100, help="timed GETs of each page")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per gunicorn worker")
    parser.add_argument("--explain", action="store_true", help="print each page's SQL statements and their times")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 5,000 members, 30 rounds")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_HEALTH")
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.members, args.rounds, args.audit_events, args.outbox_months = 5000, 30, 20_000, 2
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fanout.prepare_targets(args)
    app, env, log_dir = gunicorn_server.served_app(args, "health")
    print(f"seeding {args.communities} communities, {args.members} members, {args.months} months of history ...",
          flush=True)
    started = time.perf_counter()
    data = seed(app, args)
    print(f"seeded {data['invitations']} invitations and {data['answers']} feedback answers in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    if args.explain:
        explain(app, data["community"])

    server = gunicorn_server.Server(env, args.gunicorn_workers, args.threads, log_dir)
    try:
        cookie = log_in(server.port)
        pages = {"login page (baseline)": ("/login", None, "csrf_token"),
                 f"dashboard, {args.communities} communities": ("/", cookie, "Needs attention"),
                 f"health page, {args.months} months": (f"/communities/{data['community']}/health/", cookie,
                                                         "<svg")}
        timings = time_pages(server.port, pages, args.rounds, warm_up=5)
    finally:
        server.stop()
    print(f"\ngunicorn gthread, {args.gunicorn_workers} workers x {args.threads} threads; one keep-alive client, "
          f"the pages in turn, {args.rounds} rounds:")
    percentile = forms_review.percentile
    baseline = percentile(timings["login page (baseline)"], 0.95)
    verdicts = []
    for name, values in timings.items():
        p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
        ratio = p95 / baseline
        print(f"  {name:<28} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(values):6.1f} ms  p95 / login's {ratio:4.2f}")
        if name != "login page (baseline)":
            verdicts.append(report.figure(
                f"{name}: p95 / login page's", ratio, "<=", TARGET_RATIO, baseline=f"login page, {baseline:.1f} ms",
                text=f"{name}: p95 {p95:.1f} ms = {ratio:.2f} x the login page's {baseline:.1f} ms "
                     f"(at most {TARGET_RATIO:.0f} x)"))
    fanout.print_verdicts(verdicts)
    print(f"gunicorn log: {log_dir / 'gunicorn.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
