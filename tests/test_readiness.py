"""/readyz and `flask status`: ready only when the database, Redis, a worker with its scheduler and the cron
process all answer and no mail is stuck; otherwise 503 naming what failed, with nothing secret in it."""
from datetime import timedelta

import pytest
from redis import Redis

from service import clock, heartbeats
from service.extensions import db
from service.models import InboundMessage, OutboundEmail
from tests.smtp_server import free_port


def beat(app, role: str, seconds_ago: float = 0, pid: int = 4242, **details) -> None:
    """A heartbeat as a worker or the cron process on another host writes it."""
    heartbeats.record(Redis.from_url(app.config["REDIS_URL"]), app.config["RQ_QUEUE"], role,
                      at=clock.now() - timedelta(seconds=seconds_ago), host="jobs-1", pid=pid, **details)


def all_running(app) -> None:
    beat(app, "worker", 5, scheduler=True)
    beat(app, "worker", 3, pid=4243, scheduler=False)
    beat(app, "cron", 10)


def readiness(client):
    response = client.get("/readyz")
    return response.status_code, response.get_json()


def test_liveness_answers_without_looking_at_anything(client):
    response = client.get("/healthz")
    assert (response.status_code, response.get_data(as_text=True)) == (200, "ok")


def test_ready_when_everything_answers_and_reports(app, client):
    all_running(app)
    status, body = readiness(client)
    assert status == 200, body
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["scheduler"]["workers"] == 2
    assert body["checks"]["scheduler"]["last_seen_seconds_ago"] == 5
    assert body["checks"]["cron"]["ok"] is True
    assert body["checks"]["failed_jobs"]["count"] == 0


def test_the_answer_holds_no_address_or_credential(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://:s3cret-word@127.0.0.1:{free_port()}/0")
    status, body = readiness(client)
    text = client.get("/readyz").get_data(as_text=True)
    assert status == 503
    assert "s3cret" not in text and "127.0.0.1" not in text and "postgres" not in text.lower()
    assert "does not answer (ConnectionError)" in body["checks"]["redis"]["detail"]


def test_not_ready_without_any_worker_or_cron_heartbeat(client):
    status, body = readiness(client)
    assert status == 503
    assert body["failed"] == ["scheduler", "cron"]
    assert body["checks"]["scheduler"]["detail"] == "no worker has ever reported"
    assert body["checks"]["cron"]["detail"] == "has never reported"


def test_a_cron_process_silent_for_minutes_is_not_ready(app, client):
    beat(app, "worker", 5, scheduler=True)
    beat(app, "cron", heartbeats.STALE_AFTER + 60)
    status, body = readiness(client)
    assert (status, body["failed"]) == (503, ["cron"])
    assert body["checks"]["cron"]["detail"] == f"has not reported for {heartbeats.STALE_AFTER + 60} s"
    assert body["checks"]["cron"]["host"] == "jobs-1"


def test_workers_alive_but_none_running_the_scheduler_is_not_ready(app, client):
    beat(app, "worker", 5, scheduler=False)
    beat(app, "worker", 50, pid=4243, scheduler=True)
    beat(app, "worker", heartbeats.STALE_AFTER + 1, pid=4244, scheduler=True)  # gone: it does not count
    beat(app, "cron", 1)
    status, body = readiness(client)
    assert status == 200, body  # one live worker runs it
    Redis.from_url(app.config["REDIS_URL"]).delete(f"cop:heartbeat:{app.config['RQ_QUEUE']}:worker:jobs-1:4243")
    status, body = readiness(client)
    assert (status, body["failed"]) == (503, ["scheduler"])
    assert body["checks"]["scheduler"]["detail"] == "1 worker(s) alive, but none runs the scheduler"


def _email(status: str, minutes_ago: float, key: str) -> OutboundEmail:
    moment = clock.now() - timedelta(minutes=minutes_ago)
    return OutboundEmail(kind="announcement", recipient="a@example.org", idempotency_key=key, status=status,
                         context={}, created_at=moment, updated_at=moment)


def test_emails_stuck_sending_long_past_the_timeout_make_it_not_ready(app, ctx, client):
    all_running(app)
    limit = (app.config["MAIL_SENDING_TIMEOUT"] + 300) / 60
    db.session.add_all([_email("sending", limit + 1, "stuck-1"), _email("sending", limit + 2, "stuck-2"),
                        _email("sending", limit - 1, "still-in-time"), _email("pending", limit + 5, "pending")])
    db.session.commit()
    status, body = readiness(client)
    assert (status, body["failed"]) == (503, ["outbox"])
    assert body["checks"]["outbox"]["stuck_sending"] == 2
    assert body["checks"]["outbox"]["detail"] == "2 email(s) stuck sending"


def test_received_mail_waiting_long_past_the_sweep_grace_makes_it_not_ready(app, ctx, client):
    all_running(app)
    old = clock.now() - timedelta(seconds=app.config["MAIL_SWEEP_GRACE"] + 301)
    db.session.add_all([
        InboundMessage(via="test", message_id="<waiting@example.org>", raw=b"x", status="received", received_at=old),
        InboundMessage(via="test", message_id="<done@example.org>", raw=b"x", status="done", received_at=old),
        InboundMessage(via="test", message_id="<new@example.org>", raw=b"x", status="received")])
    db.session.commit()
    status, body = readiness(client)
    assert (status, body["failed"]) == (503, ["inbound"])
    assert body["checks"]["inbound"]["stuck_received"] == 1


def test_failed_jobs_are_counted_without_making_it_unready(app, client):
    from rq import Queue, SimpleWorker
    all_running(app)
    redis = Redis.from_url(app.config["REDIS_URL"])
    queue = Queue(app.config["RQ_QUEUE"], connection=redis)
    queue.enqueue("builtins.int", "not a number")
    SimpleWorker([queue], connection=redis).work(burst=True)
    status, body = readiness(client)
    assert status == 200, body
    assert body["checks"]["failed_jobs"]["count"] == 1


def test_with_redis_down_it_is_not_ready_and_says_why(app, client, monkeypatch):
    all_running(app)
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    status, body = readiness(client)
    assert status == 503
    assert body["failed"] == ["redis", "scheduler", "cron"]
    assert body["checks"]["cron"]["detail"] == "unknown: Redis does not answer"
    assert body["checks"]["database"]["ok"] is True


def test_readiness_is_never_rate_limited(app, client):
    all_running(app)
    assert {client.get("/readyz").status_code for _ in range(40)} == {200}


def test_flask_status_prints_the_same_for_a_person(app):
    all_running(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["status"])
    assert result.exit_code == 0, result.output
    assert "database     ok      answers" in result.output
    assert "scheduler    ok      2 worker(s) alive, one runs the scheduler (last seen 5 s ago, jobs-1 pid 4242)" \
        in result.output
    assert result.output.rstrip().endswith("Ready.")


def test_flask_status_exits_1_naming_what_failed(app, monkeypatch):
    beat(app, "worker", 5, scheduler=True)
    monkeypatch.setitem(app.config, "REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = app.test_cli_runner().invoke(args=["status"])
    assert result.exit_code == 1
    assert "redis        FAILED  does not answer (ConnectionError)" in result.output
    assert "Connection refused" in result.output  # the error's own words, for the person on the host
    assert result.output.rstrip().endswith("Not ready: redis, scheduler, cron.")


def test_heartbeats_of_other_queues_do_not_count(app, client):
    redis = Redis.from_url(app.config["REDIS_URL"])
    heartbeats.record(redis, "another-deployment", "worker", scheduler=True)
    heartbeats.record(redis, "another-deployment", "cron")
    status, body = readiness(client)
    assert status == 503 and body["failed"] == ["scheduler", "cron"]


@pytest.mark.parametrize("role", ["worker", "cron"])
def test_a_heartbeat_thread_writes_and_clears_its_key(app, role):
    from jobs.heartbeat import HeartbeatThread
    redis = Redis.from_url(app.config["REDIS_URL"])
    thread = HeartbeatThread(app.config["REDIS_URL"], app.config["RQ_QUEUE"], role, lambda: {"scheduler": True})
    thread.beat()
    beats = heartbeats.read(redis, app.config["RQ_QUEUE"], role)
    assert len(beats) == 1 and beats[0].details == {"scheduler": True} and beats[0].age(clock.now()) < 60
    thread.stop()
    assert heartbeats.read(redis, app.config["RQ_QUEUE"], role) == []
