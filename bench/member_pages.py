"""Member pages' cost through gunicorn: the form a member opens from an email, its POST, and the RSVP page.

gunicorn started with deploy/gunicorn.conf.py (its logging, max_requests and
timeouts; gthread, `--gunicorn-workers` x `--threads`, keep-alive) on a free
localhost port, against PostgreSQL and Redis. 50 client threads, each with
its own keep-alive connection and its own member, for `--seconds` per route,
the four routes one after another, `--rounds` times (default 3); each route's
figures pool its rounds:

  GET  /healthz                                   the baseline, same server, same run
  GET  /m/forms/<response>/<token>                the feedback form (no cookie: a first visit)
  POST /m/forms/<response>/<token>                signed link, CSRF (cookie and token taken
                                                  from the page first), validation, the
                                                  answers saved, the audit row; 303
  GET  /m/meetings/<meeting>/rsvp/<token>?answer= the RSVP page from the invitation

For each it prints req/s, p50/p95, errors and the CPU per request (the
gunicorn processes' CPU over the run / requests; beside it every PostgreSQL
process's on the machine, so other work on a shared machine shows there), the
workers gunicorn booted during its runs, and the ratio of each member page's
req/s to /healthz's. The rounds are there for those boots: max_requests
replaces a worker after about 2,000 requests, /healthz reaches that every few
seconds, and a boot costs about a second of CPU with one worker of two
serving meanwhile; a single run per route gave whichever route a boot landed
in a lower figure (the same POST measured 0.14 and 0.31 of /healthz).
Target: at least 0.2 with 0 errors. Rate limiting is off in the server (RATELIMIT_ENABLED=false):
every client here shares one IP, which a real deployment's members don't.
The database (`cop_bench_member_pages`) and Redis db (8) are its own, or
BENCH_MEMBER_PAGES_DATABASE_URL / _REDIS_URL: it drops and rebuilds the
schema and flushes that db. Exits 0 whatever the verdict.
"""
import argparse
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import fanout  # noqa: E402  (database guard rails, schema reset, members, CPU from /proc)
import report  # noqa: E402
from forms_review import CSRF_RE, drive, healthz_prepare, healthz_request, percentile  # noqa: E402
from gunicorn_server import DEPLOY_CONFIG, Server, add_load_arguments, served_app  # noqa: E402

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/cop_bench_member_pages"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
TARGET_RATIO = 0.2


# --- seeding ---------------------------------------------------------------------------------------

def seed(app, members: int) -> dict:
    """`members` members, an open feedback form requested from each, and a meeting next week inviting each."""
    from sqlalchemy import insert, select
    from service.extensions import db
    from service.models import FormRequest, FormResponse, Invitation, Meeting, Member
    community_id = fanout.create_members(app, members)
    now = datetime.now(timezone.utc)
    with app.app_context():
        past = Meeting(community_id=community_id, uid="bench-member-pages-past@bench", title="Monthly call",
                       title_es="Llamada mensual", starts_at=now - timedelta(days=1))
        upcoming = Meeting(community_id=community_id, uid="bench-member-pages-next@bench", title="Next call",
                           title_es="Próxima llamada", starts_at=now + timedelta(days=7),
                           agenda="Wins, then **volunteer retention**",
                           agenda_html="<p>Wins, then <strong>volunteer retention</strong></p>",
                           agenda_plain="Wins, then volunteer retention", location="Casa Verde, room 2")
        db.session.add_all([past, upcoming])
        db.session.flush()
        form_request = FormRequest(community_id=community_id, kind="feedback", meeting_id=past.id,
                                   title="Feedback: Monthly call", title_es="Opinión: Llamada mensual",
                                   intro="Two minutes, please.", deadline_at=now + timedelta(days=14))
        db.session.add(form_request)
        db.session.flush()
        member_ids = db.session.scalars(select(Member.id).order_by(Member.id)).all()
        db.session.execute(insert(FormResponse), [
            {"request_id": form_request.id, "member_id": member_id, "status": "requested",
             "created_at": now, "updated_at": now} for member_id in member_ids])
        db.session.execute(insert(Invitation), [
            {"meeting_id": upcoming.id, "member_id": member_id, "note": "", "created_at": now}
            for member_id in member_ids])
        db.session.commit()
        responses = db.session.execute(select(FormResponse.id, FormResponse.member_id).where(
            FormResponse.request_id == form_request.id).order_by(FormResponse.id)).all()
        return {"responses": [tuple(row) for row in responses], "meeting": upcoming.id, "members": member_ids}


# --- the clients -----------------------------------------------------------------------------------

def _get(connection, path: str, headers: dict | None = None) -> tuple[int, str, object]:
    connection.request("GET", path, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8"), response.msg


def form_links(app, data: dict) -> list[str]:
    from service.form_requests import TOKEN_PURPOSE
    from service.tokens import make_token
    with app.app_context():
        return [f"/m/forms/{response_id}/{make_token(TOKEN_PURPOSE, member_id, response_id)}"
                for response_id, member_id in data["responses"]]


def rsvp_links(app, data: dict) -> list[str]:
    from service.tokens import make_token
    answers = ("yes", "maybe", "no")
    with app.app_context():
        return [f"/m/meetings/{data['meeting']}/rsvp/{make_token('rsvp', member_id, data['meeting'])}"
                f"?answer={answers[index % 3]}" for index, member_id in enumerate(data["members"])]


def page_clients(links: list[str], marker: str):
    """(prepare, request) for GETs of one member's page per client; a page without `marker` is an error."""
    def prepare(connection, index):
        return {"path": links[index % len(links)]}

    def request(connection, state) -> int:
        status, page, _headers = _get(connection, state["path"])
        return status if marker in page else 599

    return prepare, request


def post_clients(links: list[str]):
    """(prepare, request) for the form's POST; each client takes its page's session cookie and CSRF token first."""
    def prepare(connection, index):
        path = links[index % len(links)]
        status, page, headers = _get(connection, path)
        cookie = "; ".join(value.split(";", 1)[0] for value in headers.get_all("Set-Cookie") or []
                           if value.startswith("session="))
        match = CSRF_RE.search(page)
        if status != 200 or not match or not cookie:
            raise RuntimeError(f"form page {status}, csrf {bool(match)}, cookie {bool(cookie)}")
        return {"path": path, "cookie": cookie, "csrf": match.group(1) or match.group(2), "n": 0}

    def request(connection, state) -> int:
        state["n"] += 1
        body = urlencode({"csrf_token": state["csrf"], "usefulness": str(1 + state["n"] % 5),
                          "recommend": str(state["n"] % 11), "what_worked": f"Answer {state['n']}, from the bench",
                          "what_to_change": "Shorter introductions", "next_topics": "Volunteer retention",
                          "submit": "1"})
        connection.request("POST", state["path"], body=body, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": state["cookie"]})
        response = connection.getresponse()
        response.read()
        return response.status if response.status != 303 or "saved=submitted" in (
            response.getheader("Location") or "") else 598

    return prepare, request


def measure(server: Server, clients: int, seconds: float, prepare, request) -> dict:
    """One warmed-up load run: drive()'s figures, the CPU the server and PostgreSQL spent, workers booted."""
    drive(server.port, clients, min(1.0, seconds), prepare, request)  # warm-up
    server_before, database_before, boots_before = (server.cpu_seconds(), fanout.database_cpu_seconds(),
                                                    server.worker_boots())
    result = drive(server.port, clients, seconds, prepare, request)
    result["cpu_seconds"] = server.cpu_seconds() - server_before
    result["db_cpu_seconds"] = fanout.database_cpu_seconds() - database_before
    result["boots"] = server.worker_boots() - boots_before
    return result


def pooled(runs: list[dict]) -> dict:
    """One route's runs taken together: requests over the seconds they took, percentiles over every request."""
    requests = sum(run["requests"] for run in runs)
    latencies = [latency for run in runs for latency in run["latencies"]]
    errors = [error for run in runs for error in run["first_errors"]]
    return {"requests": requests, "rps": requests / sum(run["elapsed"] for run in runs),
            "p50": percentile(latencies, 0.5) if latencies else float("nan"),
            "p95": percentile(latencies, 0.95) if latencies else float("nan"),
            "errors": sum(run["errors"] for run in runs), "first_errors": errors[:3],
            "cpu_ms": sum(run["cpu_seconds"] for run in runs) * 1000 / max(1, requests),
            "db_cpu_ms": sum(run["db_cpu_seconds"] for run in runs) * 1000 / max(1, requests),
            "boots": sum(run["boots"] for run in runs)}


# --- main ------------------------------------------------------------------------------------------

def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=200)
    add_load_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the four routes, one after another; each route's figures pool its rounds")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one round of 4 s load runs")
    fanout.add_target_arguments(parser, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, env_prefix="BENCH_MEMBER_PAGES")
    args, _unknown = parser.parse_known_args(argv)  # bench/run.py passes every benchmark the same arguments
    if args.quick:
        args.seconds, args.rounds = 4.0, 1
    return args


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fanout.prepare_targets(args)
    app, env, log_dir = served_app(args, "member-pages")
    data = seed(app, max(args.members, args.clients))
    forms, rsvps = form_links(app, data), rsvp_links(app, data)

    print(f"gunicorn -c deploy/gunicorn.conf.py, gthread {args.gunicorn_workers} workers x {args.threads} threads; "
          f"{args.clients} keep-alive clients; {args.rounds} round(s) of {args.seconds:.0f} s per route:", flush=True)
    routes = {"GET /healthz": (healthz_prepare, healthz_request),
              "GET form": page_clients(forms, 'name="csrf_token"'),
              "POST form": post_clients(forms),
              "GET RSVP page": page_clients(rsvps, 'name="answer"')}
    rounds = {name: [] for name in routes}
    server = Server(env, args.gunicorn_workers, args.threads, log_dir, config=DEPLOY_CONFIG, boot_seconds=300)
    try:
        for _round in range(args.rounds):
            for name, (prepare, request) in routes.items():
                rounds[name].append(measure(server, args.clients, args.seconds, prepare, request))
    finally:
        server.stop()
    runs = {name: pooled(results) for name, results in rounds.items()}

    baseline = runs["GET /healthz"]["rps"]
    print(f"  {'route':<15} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} {'CPU ms/req':>10} "
          f"{'PG ms':>7} {'boots':>5} {'ratio':>6}")
    verdicts = []
    for name, result in runs.items():
        ratio = result["rps"] / baseline if baseline else 0.0
        print(f"  {name:<15} {result['rps']:>7.0f} {result['p50']:>7.1f} {result['p95']:>7.1f} {result['errors']:>6} "
              f"{result['cpu_ms']:>10.2f} {result['db_cpu_ms']:>7.2f} {result['boots']:>5} {ratio:>6.2f}"
              + (f"  e.g. {result['first_errors']}" if result["errors"] else ""))
        if name != "GET /healthz":
            text, fast_enough = report.figure(
                f"{name} req/s / /healthz's", ratio, ">=", TARGET_RATIO,
                baseline=f"/healthz {baseline:.0f} req/s; {result['cpu_ms']:.2f} ms CPU/request here",
                text=f"{name}: {ratio:.2f} of /healthz's req/s >= {TARGET_RATIO}, {result['errors']} errors")
            _text, no_errors = report.check(f"{name}: no errors", not result["errors"])
            verdicts.append((text, fast_enough and no_errors))
    fanout.print_verdicts(verdicts)
    print(f"gunicorn log: {log_dir / 'gunicorn.log'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
