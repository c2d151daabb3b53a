"""When PostgreSQL or Redis goes away: people see clear pages and never a 500 for work that was saved, and the
worker and cron processes ride the outage out; the work resumes with nothing lost and nothing sent twice.

PostgreSQL and Redis here are servers each test module starts itself, never the machine's shared ones.
"""
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter

import pytest
from flask_migrate import upgrade
from limits.storage import MemoryStorage, storage_from_string
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from service import create_app, mailer
from service.communities import create_community
from service.config import PROJECT_ROOT
from service.coordinators import create_coordinator
from service.extensions import db, limiter
from service.models import Community, Member, Membership, OutboundEmail
from service.queue import get_queue
from tests import services
from tests.conftest import PASSWORD, _reset_schema, login, post_form
from tests.postgres_server import PostgresServer, postgres_bin
from tests.smtp_server import SMTPServer
from tests.test_delivery_faults import fan_out
from tests.test_worker_redis_restart import RedisServer
from tests.worker_process import WorkerProcess, wait_until, worker_environment


@pytest.fixture(scope="module")
def postgres():
    services.require(postgres_bin() is not None and (os.geteuid() != 0 or shutil.which("runuser")),
                     "PostgreSQL's initdb and pg_ctl")
    server = PostgresServer().start()
    yield server
    server.remove()


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


@pytest.fixture
def own_app(postgres, redis_server, tmp_path):
    """The app on the test's own PostgreSQL and Redis, with one coordinator and one community."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": postgres.url, "REDIS_URL": redis_server.url,
                      "EMBEDDED_REDIS": False, "INSTANCE_DIR": str(tmp_path), "MAIL_SINK_DIR": str(tmp_path / "sink"),
                      "MAIL_SUPPRESS_SEND": False, "RATELIMIT_STORAGE_URI": "memory://", "SERVER_NAME": None})
    with app.app_context():
        if not postgres.running():
            postgres.start()
        _reset_schema()
        upgrade()
        coordinator = create_coordinator("dana@example.org", "Dana", PASSWORD)
        db.session.flush()
        community = create_community(coordinator, name="Hillside COP", time_zone="America/Chicago")
        db.session.commit()
        app.config["TEST_COMMUNITY_ID"] = community.id
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()
    if not postgres.running():
        postgres.start()


# --- PostgreSQL down: a styled 503 --------------------------------------------------------------------------

def test_with_postgresql_down_every_page_is_a_styled_503_and_it_comes_back(own_app, postgres):
    client = own_app.test_client()
    assert login(client, "dana@example.org", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200

    postgres.stop()
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 503
    assert "We'll be back shortly" in html and "Nothing you already saved is lost." in html
    assert 'href="/static/style.css"' in html  # styled, not a bare error
    assert page.headers["Retry-After"] == "30"
    spanish = client.get("/", headers={"Accept-Language": "es"})
    assert spanish.status_code == 503 and "Volvemos enseguida" in spanish.get_data(as_text=True)
    anonymous = own_app.test_client()
    signing_in = post_form(anonymous, "/login", {"email": "dana@example.org", "password": PASSWORD})
    assert signing_in.status_code == 503
    ready = own_app.test_client().get("/readyz")
    body = ready.get_json()
    assert ready.status_code == 503 and "database" in body["failed"]
    assert body["checks"]["database"]["detail"] == "does not answer (OperationalError)"
    assert own_app.test_client().get("/healthz").status_code == 200  # the process itself is alive
    status = own_app.test_cli_runner().invoke(args=["status"])
    assert status.exit_code == 1
    assert "database     FAILED  does not answer (OperationalError)" in status.output
    assert "Connection refused" in status.output  # the server's words, for the person on the host

    postgres.start()
    assert client.get("/").status_code == 200  # the same session goes on


# --- Redis down: login works, committed work is said to be saved ---------------------------------------------

@pytest.fixture
def limits_in(redis_server, monkeypatch):
    """The login limits counted in the test's Redis, as in production (the fallback is this test's own)."""
    strategy = type(limiter._limiter)
    storage, memory = storage_from_string(redis_server.url), MemoryStorage()
    for name, value in (("_storage", storage), ("_limiter", strategy(storage)), ("_storage_dead", False),
                        ("_fallback_storage", memory), ("_fallback_limiter", strategy(memory))):
        monkeypatch.setattr(limiter, name, value, raising=False)


def test_with_redis_down_login_works_and_an_announcement_says_it_will_go_out(own_app, redis_server, limits_in,
                                                                             caplog):
    community_id = own_app.config["TEST_COMMUNITY_ID"]
    with own_app.app_context():
        fan_out(community_id, 3, "members")  # three members, and an earlier announcement to them
        get_queue().empty()
    client = own_app.test_client()

    redis_server.stop()
    caplog.set_level(logging.WARNING)
    assert login(client, "dana@example.org", PASSWORD).status_code == 302
    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text

    url = f"/communities/{community_id}/announcements/new"
    sent = post_form(client, url, {"subject": "Meeting moved", "body": "We meet on Thursday instead."})
    assert sent.status_code == 302
    page = client.get(sent.location).get_data(as_text=True)
    assert "Your message is on its way to 3 members." in page
    assert "Saved. Sending is delayed by a moment: it will go out by itself within a few minutes" in page
    assert "Redis is unavailable; 1 job(s) wait for the sweeper" in caplog.text
    with own_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(OutboundEmail).where(
            OutboundEmail.idempotency_key.like("announcement:%"), OutboundEmail.status == "pending")) == 3
    again = client.get(sent.location).get_data(as_text=True)
    assert "Sending is delayed" not in again  # said once


# --- worker and cron processes through a Redis restart, then a PostgreSQL restart -----------------------------

def _cron(app, log_path, **settings) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "jobs.cron", "--interval", "2"], cwd=PROJECT_ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                env=worker_environment(app, 25, **settings))


def _received(smtp) -> Counter:
    return Counter(rcpt for message in smtp.messages for rcpt in message.rcpt_tos)


def _statuses(keys: str) -> dict[str, int]:
    db.session.commit()
    return dict(db.session.execute(select(OutboundEmail.status, func.count())
                                   .where(OutboundEmail.idempotency_key.like(f"{keys}:%"))
                                   .group_by(OutboundEmail.status)).all())


def _rows_not_enqueued(community_id: int, key: str, count: int) -> list[int]:
    """An announcement's rows committed as a request would, but whose delivery job Redis never got."""
    addresses = [f"member{i:04d}@{key}.example.net" for i in range(count)]
    db.session.execute(db.insert(Member), [{"email": a, "name": f"Member {i}"} for i, a in enumerate(addresses)])
    people = list(db.session.scalars(select(Member).where(Member.email.in_(addresses))))
    db.session.execute(db.insert(Membership), [{"community_id": community_id, "member_id": m.id, "name": m.name,
                                                "language": m.language} for m in people])
    mailer.queue_bulk("announcement", people, lambda m: f"{key}:{m.id}",
                      lambda m: {"subject": "News", "body": "Hello"}, db.session.get(Community, community_id))
    db.session.info.pop("cop_jobs_after_commit")  # as if Redis had lost the job
    db.session.commit()
    return list(db.session.scalars(select(OutboundEmail.id).where(OutboundEmail.idempotency_key.like(f"{key}:%"))))


def test_worker_and_cron_ride_out_redis_then_postgresql_restarts_with_nothing_lost_or_sent_twice(
        own_app, postgres, redis_server, tmp_path):
    community_id = own_app.config["TEST_COMMUNITY_ID"]
    settings = {"MAIL_SWEEP_GRACE": 1, "REDIS_URL": redis_server.url}
    with SMTPServer() as smtp, own_app.app_context():
        worker = WorkerProcess(own_app, smtp.port, tmp_path / "worker.log", **settings)
        cron = _cron(own_app, tmp_path / "cron.log", **settings)

        def logs() -> str:
            return worker.log() + "\n--- cron log ---\n" + (tmp_path / "cron.log").read_text(errors="replace")

        def alive() -> bool:
            assert worker.process.poll() is None, f"the worker exited{logs()}"
            assert cron.poll() is None, f"the cron process exited{logs()}"
            return True

        def ready() -> bool:
            return alive() and own_app.test_client().get("/readyz").status_code == 200

        try:
            worker.start().wait_ready()
            wait_until(ready, 60, "both processes to report (readiness)", interval=0.5,
                       on_timeout=lambda: str(own_app.test_client().get("/readyz").get_json()) + logs())
            fan_out(community_id, 5, "before")
            wait_until(lambda: _statuses("before") == {"sent": 5}, 60, "the first announcement", on_timeout=logs)

            # Redis restarts: an announcement committed meanwhile reaches its queue through the sweeper.
            redis_server.stop()
            fan_out(community_id, 5, "during-redis")  # committed; its enqueue fails and is logged
            wait_until(lambda: alive() and "trying again" in (tmp_path / "cron.log").read_text(), 60,
                       "the cron process to wait for Redis", on_timeout=logs)
            redis_server.start()
            wait_until(lambda: alive() and _statuses("during-redis") == {"sent": 5}, 90,
                       "the announcement saved while Redis was down", interval=0.2, on_timeout=logs)
            wait_until(ready, 120, "both processes to report again after the Redis restart", interval=0.5,
                       on_timeout=lambda: str(own_app.test_client().get("/readyz").get_json()) + logs())

            # PostgreSQL restarts: a delivery job that runs meanwhile fails; its rows stay due and go out after.
            ids = _rows_not_enqueued(community_id, "during-postgres", 5)
            db.session.remove()
            db.engine.dispose()
            postgres.stop()
            queue = Queue(own_app.config["RQ_QUEUE"], connection=Redis.from_url(redis_server.url))
            job = queue.enqueue("jobs.delivery.deliver", ids)
            wait_until(lambda: alive() and job.get_status(refresh=True) == "failed", 60,
                       "the job to fail without the database", on_timeout=logs)
            postgres.start()
            wait_until(lambda: alive() and _statuses("during-postgres") == {"sent": 5}, 90,
                       "the announcement whose job failed during the outage", interval=0.2, on_timeout=logs)
            fan_out(community_id, 5, "after")
            wait_until(lambda: _statuses("after") == {"sent": 5}, 60, "work queued after both restarts",
                       on_timeout=logs)
            wait_until(ready, 60, "readiness after both restarts", interval=0.5,
                       on_timeout=lambda: str(own_app.test_client().get("/readyz").get_json()) + logs())

            received = _received(smtp.handler)
            expected = {f"member{i:04d}@{key}.example.net"
                        for key in ("before", "during-redis", "during-postgres", "after") for i in range(5)}
            assert set(received) == expected  # nothing lost
            assert set(received.values()) == {1}  # nothing sent twice
            assert alive()
            assert worker.stop() == 0
            cron.send_signal(signal.SIGTERM)
            assert cron.wait(timeout=30) == 0
        finally:
            worker.cleanup()
            if cron.poll() is None:
                os.killpg(cron.pid, signal.SIGKILL)
                cron.wait()
