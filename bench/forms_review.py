"""Forms benchmark: the review summary over 100,000 answers, and member form submission through gunicorn.

1. Summary: a community of 10,000 members (in 50 organizations) and two
   meeting-feedback forms each answered by all of them (5 answers each:
   100,000 answers in all, bulk inserted). GET of the latest form's summary
   page through the Flask test client, logged in as its coordinator, 50
   times (after 3 warm-ups), unfiltered and filtered by one organization.
   Target: p95 under 150 ms (the counts are GROUP BYs in SQL).
2. Submission: gunicorn (gthread) on a free localhost port; 50 client
   threads with keep-alive connections for `--seconds` each against
   (i) GET /healthz and (ii) POST of a member's feedback form
   (/m/forms/<response>/<token>, each client with its own response, the CSRF
   token and session cookie taken from the page first; the POST saves and
   answers 303 to the confirmation page, which the client does not fetch).
   Targets: submission throughput at least half the trivial route's, and p95
   under 50 ms.
   Rate limiting is switched off in the server (RATELIMIT_ENABLED=false):
   every client here shares one IP, which a real deployment's members don't.

It prints the figures and PASS/FAIL per target, and exits 0 whatever the
verdict. The database (`cop_bench_forms`) and the Redis db (2) are its own:
it drops and rebuilds the schema and flushes that Redis db.
"""
import argparse
import http.client
import random
import re
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (database guard rails, schema reset and member set-up live there)
import report  # noqa: E402
from gunicorn_server import Server, add_load_arguments, served_app  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_forms"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
PROTECTED_REDIS_DBS = range(3, 16)
SUMMARY_TARGET_MS = 150.0
SUBMIT_TARGET_MS = 50.0
TARGET_RATIO = 0.5
PASSWORD = "bench password 1234"
TEXTS = ["The breakout rooms", "Hearing how Casa Verde runs its pantry", "More time for questions, please",
         "Shorter introductions", "Volunteer retention", "Grant reporting", "", "Sharing intake forms"]
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


# --- seeding ---------------------------------------------------------------------------------------

def seed(app, members: int, forms: int) -> dict:
    """Members in 50 organizations, a coordinator, `forms` answered feedback forms and one open form."""
    from sqlalchemy import insert, select, update
    from service.coordinators import create_coordinator
    from service.extensions import db
    from service.models import (CommunityCoordinator, FormAnswer, FormRequest, FormResponse, Meeting, Member,
                                Membership, Organization)
    community_id = fanout.create_members(app, members)
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with app.app_context():
        db.session.execute(insert(Organization), [{"name": f"Organization {n}", "name_key": f"organization {n}",
                                                   "created_at": now} for n in range(50)])
        org_ids = db.session.scalars(select(Organization.id).order_by(Organization.id)).all()
        member_ids = db.session.scalars(select(Member.id).order_by(Member.id)).all()
        for index, org_id in enumerate(org_ids):
            db.session.execute(update(Membership).where(Membership.member_id.in_(member_ids[index::len(org_ids)]))
                               .values(organization_id=org_id))
        coordinator = create_coordinator("bench@example.org", "Bench", PASSWORD)
        db.session.flush()
        db.session.add(CommunityCoordinator(community_id=community_id, coordinator_id=coordinator.id))
        request_ids = []
        for number in range(forms + 1):  # the last one stays open for the submission benchmark
            meeting = Meeting(community_id=community_id, uid=f"bench-forms-{number}@bench", title=f"Call {number}",
                              starts_at=now - timedelta(days=30 * (forms - number)))
            db.session.add(meeting)
            db.session.flush()
            form_request = FormRequest(community_id=community_id, kind="feedback", meeting_id=meeting.id,
                                       title=f"Feedback: Call {number}")
            db.session.add(form_request)
            db.session.flush()
            request_ids.append(form_request.id)
        db.session.commit()
        answers = 0
        for number, request_id in enumerate(request_ids):
            answered = number < forms
            chosen = member_ids if answered else member_ids[:50]
            for start in range(0, len(chosen), 2000):
                batch = chosen[start:start + 2000]
                db.session.execute(insert(FormResponse), [
                    {"request_id": request_id, "member_id": member_id,
                     "status": "submitted" if answered else "requested",
                     "submitted_at": now - timedelta(minutes=rng.randrange(10_000)) if answered else None,
                     "created_at": now, "updated_at": now} for member_id in batch])
                if not answered:
                    continue
                ids = db.session.scalars(select(FormResponse.id).where(
                    FormResponse.request_id == request_id, FormResponse.member_id.in_(batch))).all()
                rows = []
                for response_id in ids:
                    rows.append({"response_id": response_id, "question": "usefulness", "value_int": rng.randint(1, 5)})
                    rows.append({"response_id": response_id, "question": "recommend", "value_int": rng.randint(0, 10)})
                    for key in ("what_worked", "what_to_change", "next_topics"):
                        rows.append({"response_id": response_id, "question": key, "value_text": rng.choice(TEXTS)})
                db.session.execute(insert(FormAnswer), rows)
                answers += len(rows)
            db.session.commit()
        db.session.execute(db.text("ANALYZE") if db.engine.dialect.name == "postgresql" else db.text("SELECT 1"))
        db.session.commit()
        open_responses = db.session.execute(select(FormResponse.id, FormResponse.member_id).where(
            FormResponse.request_id == request_ids[-1]).order_by(FormResponse.id)).all()
        return {"community": community_id, "summary_request": request_ids[forms - 1], "answers": answers,
                "organization": org_ids[0], "open_responses": [tuple(row) for row in open_responses]}


# --- 1. the summary page ---------------------------------------------------------------------------

def time_summary(app, data: dict, runs: int) -> dict:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    match = CSRF_RE.search(page)
    login = client.post("/login", data={"csrf_token": match.group(1) or match.group(2),
                                        "email": "bench@example.org", "password": PASSWORD})
    assert login.status_code == 302, login.status_code
    results = {}
    base = f"/communities/{data['community']}/forms/{data['summary_request']}/review/"
    for name, url in (("all members", base), ("one organization", f"{base}?organization={data['organization']}")):
        for _ in range(3):
            assert client.get(url).status_code == 200
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200 and b"<svg" in response.data
        results[name] = timings
    return results


# --- 2. submission through gunicorn --------------------------------------------------------------

def _client(port: int, prepare, request, stop_at: list, start: threading.Barrier, out: list, errors: list):
    """One client: its own keep-alive connection; `request(connection, state)` until stop_at[0]."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        state = prepare(connection)
    except Exception as exc:  # a client that cannot start counts as an error, the others run on
        errors.append(repr(exc))
        start.wait()
        return
    start.wait()
    latencies = []
    while time.perf_counter() < stop_at[0]:
        began = time.perf_counter()
        try:
            status = request(connection, state)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(repr(exc))
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        latencies.append((time.perf_counter() - began) * 1000)
        if status not in (200, 303):  # a saved form answers 303 to its confirmation page
            errors.append(f"HTTP {status}")
    connection.close()
    out.extend(latencies)


def drive(port: int, clients: int, seconds: float, prepare, request) -> dict:
    """`clients` threads for `seconds` (timed from when all are prepared); req/s and latency percentiles."""
    latencies: list[float] = []
    errors: list[str] = []
    times = [0.0, 0.0]  # stop, start

    def go():
        times[1] = time.perf_counter()
        times[0] = times[1] + seconds

    start = threading.Barrier(clients, action=go)
    threads = [threading.Thread(target=_client, daemon=True,
                                args=(port, lambda c, i=i: prepare(c, i), request, times, start, latencies, errors))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    elapsed = time.perf_counter() - times[1]
    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "elapsed": elapsed, "latencies": latencies,
            "p50": percentile(latencies, 0.5) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) if latencies else float("nan"),
            "errors": len(errors), "first_errors": errors[:3]}


def healthz_prepare(connection, index):
    return None


def healthz_request(connection, state) -> int:
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    return response.status


def submission_clients(app, data: dict):
    """(prepare, request) for the form POST; each client takes its own member's response and link."""
    from service.form_requests import TOKEN_PURPOSE
    from service.tokens import make_token
    with app.app_context():
        links = [f"/m/forms/{response_id}/{make_token(TOKEN_PURPOSE, member_id, response_id)}"
                 for response_id, member_id in data["open_responses"]]

    def prepare(connection, index):
        path = links[index % len(links)]
        connection.request("GET", path)
        response = connection.getresponse()
        page = response.read().decode("utf-8")
        cookie = "; ".join(value.split(";", 1)[0] for value in response.msg.get_all("Set-Cookie") or []
                           if value.startswith("session="))
        match = CSRF_RE.search(page)
        if response.status != 200 or not match or not cookie:
            raise RuntimeError(f"form page {response.status}, csrf {bool(match)}, cookie {bool(cookie)}")
        return {"path": path, "cookie": cookie, "csrf": match.group(1) or match.group(2), "n": 0}

    def request(connection, state) -> int:
        state["n"] += 1
        body = urlencode({"csrf_token": state["csrf"], "usefulness": str(1 + state["n"] % 5),
                          "recommend": str(state["n"] % 11), "what_worked": f"Answer {state['n']}, from the bench",
                          "what_to_change": "Shorter introductions", "next_topics": "Volunteer retention", "submit": "Submit"})
        connection.request("POST", state["path"], body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": state["cookie"]})
        response = connection.getresponse()
        response.read()
        return response.status

    return prepare, request


# --- main ------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--forms", type=int, default=2, help="answered feedback forms (5 answers per member each)")
    parser.add_argument("--runs", type=int, default=50, help="timed GETs of the summary page")
    add_load_arguments(parser)
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 members, 3 s load runs")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_FORMS")
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.members, args.seconds, args.runs = 1000, 3.0, 20
    return args


def check_redis(redis_url: str) -> None:
    from redis import Redis
    db_number = int(Redis.from_url(redis_url).connection_pool.connection_kwargs.get("db") or 0)
    if db_number in PROTECTED_REDIS_DBS:
        sys.exit(f"refusing to use Redis db {db_number}: dbs 3-15 belong to others")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    check_redis(args.redis_url)
    fanout.prepare_targets(args)
    app, env, log_dir = served_app(args, "forms")
    print(f"seeding {args.members} members, {args.forms} answered feedback forms ...", flush=True)
    started = time.perf_counter()
    data = seed(app, args.members, args.forms)
    print(f"seeded {data['answers']} answers in {time.perf_counter() - started:.1f} s", flush=True)

    summary = time_summary(app, data, args.runs)
    verdicts = []
    print(f"\nsummary page of a form answered by {args.members} members ({data['answers']} answers in the db), "
          f"{args.runs} GETs through the Flask test client:")
    for name, timings in summary.items():
        p50, p95 = percentile(timings, 0.5), percentile(timings, 0.95)
        print(f"  {name:<17} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(timings):6.1f} ms")
        verdicts.append(report.figure(f"summary ({name}) p95", p95, "<", SUMMARY_TARGET_MS, unit="ms",
                                      text=f"summary ({name}) p95 {p95:.1f} ms < {SUMMARY_TARGET_MS:.0f} ms"))

    print(f"\ngunicorn gthread, {args.gunicorn_workers} workers x {args.threads} threads; {args.clients} "
          f"keep-alive clients, {args.seconds:.0f} s each:", flush=True)
    server = Server(env, args.gunicorn_workers, args.threads, log_dir)
    try:
        drive(server.port, args.clients, 1.0, healthz_prepare, healthz_request)  # warm-up
        trivial = drive(server.port, args.clients, args.seconds, healthz_prepare, healthz_request)
        if "form_links.answer" in app.view_functions:
            prepare, request = submission_clients(app, data)
            drive(server.port, args.clients, 1.0, prepare, request)  # warm-up
            submit = drive(server.port, args.clients, args.seconds, prepare, request)
        else:
            submit = None
    finally:
        server.stop()
    print(f"  {'route':<24} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, result in (("GET /healthz", trivial), ("POST /m/forms/... submit", submit)):
        if result is None:
            print(f"  {name:<24} pending: the member form route (form_links.answer) is not in the app")
            continue
        print(f"  {name:<24} {result['rps']:>8.0f} {result['p50']:>8.1f} {result['p95']:>8.1f} {result['errors']:>7}"
              + (f"  e.g. {result['first_errors']}" if result["errors"] else ""))
    if submit is not None:
        ratio = submit["rps"] / trivial["rps"]
        print(f"  ratio submit/trivial: {ratio:.2f}")
        verdicts.append(report.figure("submission req/s / GET /healthz's", ratio, ">=", TARGET_RATIO,
                                      baseline=f"GET /healthz, {trivial['rps']:.0f} req/s",
                                      text=f"submission throughput / trivial route's = {ratio:.2f} >= {TARGET_RATIO}"))
        verdicts.append(report.figure("submission p95", submit["p95"], "<", SUBMIT_TARGET_MS, unit="ms",
                                      text=f"submission p95 {submit['p95']:.1f} ms < {SUBMIT_TARGET_MS:.0f} ms"))
        verdicts.append(report.check("no errors", not submit["errors"] + trivial["errors"],
                                     text=f"no errors ({submit['errors'] + trivial['errors']})"))
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    print(f"verdict: {'PASS' if all(ok for _t, ok in verdicts) and submit is not None else 'FAIL'}")
    print(f"gunicorn log: {log_dir / 'gunicorn.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
