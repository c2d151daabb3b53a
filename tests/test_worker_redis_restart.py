"""Workers and the cron process outlive a Redis restart: they reconnect by themselves, the job that was
running is not lost, and the work queued afterwards is done, without anyone restarting them."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from redis import Redis
from sqlalchemy import func, select

from service.config import PROJECT_ROOT
from service.embedded_redis import redis_server_binary
from service.extensions import db
from service.models import OutboundEmail
from service.queue import get_queue
from tests.smtp_server import free_port
from tests.test_delivery_faults import fan_out, slow_smtp
from tests.worker_process import WorkerProcess, wait_until, worker_environment


class RedisServer:
    """A redis-server of the test's own on a TCP port, which the test stops and starts again.

    It saves its data on shutdown and loads it on start, as a production Redis
    restarted by its service manager does.
    """

    def __init__(self, directory):
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.directory / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.directory),
                 "--save", "3600", "1", "--appendonly", "no", "--loglevel", "warning"],
                stdout=log, stderr=subprocess.STDOUT)
        client = Redis.from_url(self.url)

        def answers() -> bool:
            try:
                return client.ping()
            except Exception:
                return False
        wait_until(answers, 10, "redis-server to answer", interval=0.05)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)


@pytest.fixture
def redis_server(app, tmp_path, monkeypatch):
    """A restartable Redis, which the app (queueing) and the worker both use for this test."""
    server = RedisServer(tmp_path)
    server.start()
    monkeypatch.setitem(app.config, "REDIS_URL", server.url)
    monkeypatch.setitem(app.extensions, "cop_redis", Redis.from_url(server.url))
    yield server
    if server.process.poll() is None:
        server.stop()


def announce(community_id: int, key: str, count: int) -> list[int]:
    """An announcement queued to `count` new members; the outbox ids (the delivery job is enqueued on commit)."""
    fan_out(community_id, count, key)
    return list(db.session.scalars(select(OutboundEmail.id).where(OutboundEmail.idempotency_key.like(f"{key}:%"))))


def statuses(ids: list[int]) -> dict[str, int]:
    db.session.commit()  # a fresh snapshot: what the worker committed
    return dict(db.session.execute(select(OutboundEmail.status, func.count()).where(OutboundEmail.id.in_(ids))
                                   .group_by(OutboundEmail.status)).all())


def alive(worker: WorkerProcess) -> bool:
    if worker.process.poll() is not None:
        raise AssertionError(f"the worker exited with {worker.process.returncode}{worker.log()}")
    return True


def logged(worker: WorkerProcess) -> str:
    return worker.log_path.read_text(errors="replace")


def test_a_worker_reconnects_after_redis_restarts_under_a_running_job(app, ctx, personas, smtp, redis_server,
                                                                       tmp_path):
    release = slow_smtp(smtp, hold_at=1)  # the job is mid-batch until released
    first = announce(personas["riverside"], "before", 3)
    later = announce(personas["riverside"], "scheduled", 2)
    queue = get_queue()
    queue.empty()  # the first batch is delivered now, the other one once the scheduler is back
    queue.enqueue("jobs.delivery.deliver", first)
    worker = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log", REDIS_URL=redis_server.url)
    try:
        worker.start().wait_ready()
        wait_until(lambda: smtp.messages, 30, "the job to be sending", on_timeout=worker.log)

        redis_server.stop()  # under the running job
        release.set()        # its work-horse finishes the batch while Redis is down
        wait_until(lambda: alive(worker) and "trying again in 1 s" in logged(worker), 60,
                   "the worker to notice Redis is gone", on_timeout=worker.log)
        redis_server.start()

        # The job that was running is not lost: its rows were sent.
        wait_until(lambda: statuses(first) == {"sent": 3}, 30, "the first batch to be sent",
                   on_timeout=lambda: f" {statuses(first)}{worker.log()}")
        # The same worker process takes the work queued after the restart.
        worker.wait_ready()
        second = announce(personas["riverside"], "after", 3)
        wait_until(lambda: statuses(second) == {"sent": 3}, 30, "work queued after the restart to be sent",
                   on_timeout=lambda: f" {statuses(second)}{worker.log()}")
        # Its scheduler is back too: a job scheduled for later (as a retry is) runs.
        queue.enqueue_at(datetime.now(timezone.utc), "jobs.delivery.deliver", later)
        wait_until(lambda: statuses(later) == {"sent": 2}, 30, "the scheduled job to run",
                   on_timeout=lambda: f" {statuses(later)}{worker.log()}")
        assert alive(worker)
        received = {rcpt for message in smtp.messages for rcpt in message.rcpt_tos}
        assert {f"member{i:04d}@after.example.net" for i in range(3)} <= received
        assert worker.stop() == 0  # and it still stops when asked
    finally:
        release.set()
        worker.cleanup()


def test_an_idle_worker_gets_its_scheduler_back_after_redis_restarts(app, ctx, personas, smtp, redis_server,
                                                                      tmp_path):
    later = announce(personas["riverside"], "scheduled", 2)
    queue = get_queue()
    queue.empty()
    worker = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log", REDIS_URL=redis_server.url)
    try:
        worker.start().wait_ready()
        wait_until(lambda: "cleaning registries" in logged(worker), 30, "the worker's start-up maintenance")
        time.sleep(1)  # now it waits for a job
        redis_server.stop()  # RQ retries that wait itself, but the scheduler dies
        wait_until(lambda: alive(worker) and "] raised an exception" in logged(worker), 60, "the scheduler to die",
                   on_timeout=worker.log)
        redis_server.start()
        queue.enqueue_at(datetime.now(timezone.utc), "jobs.delivery.deliver", later)  # as a retry is
        wait_until(lambda: statuses(later) == {"sent": 2}, 30, "the scheduled job to run",
                   on_timeout=lambda: f" {statuses(later)}{worker.log()}")
        assert alive(worker)
    finally:
        worker.cleanup()


def test_a_worker_started_before_redis_waits_for_it(app, ctx, personas, smtp, redis_server, tmp_path):
    redis_server.stop()
    worker = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log", REDIS_URL=redis_server.url)
    try:
        worker.start()
        wait_until(lambda: alive(worker) and "trying again in 1 s" in logged(worker), 60,
                   "the worker to wait for Redis", on_timeout=worker.log)
        redis_server.start()
        worker.wait_ready()
        ids = announce(personas["riverside"], "first", 2)
        wait_until(lambda: statuses(ids) == {"sent": 2}, 30, "the work to be done",
                   on_timeout=lambda: f" {statuses(ids)}{worker.log()}")
    finally:
        worker.cleanup()


def test_a_worker_waiting_for_redis_stops_when_asked(app, redis_server, tmp_path):
    redis_server.stop()
    worker = WorkerProcess(app, 25, tmp_path / "worker.log", REDIS_URL=redis_server.url).start()
    try:
        wait_until(lambda: alive(worker) and "trying again in 1 s" in logged(worker), 60,
                   "the worker to wait for Redis", on_timeout=worker.log)
        assert worker.stop(timeout=10) == 0
    finally:
        worker.cleanup()


def test_the_cron_process_waits_for_redis_and_enqueues_the_sweeper(app, ctx, redis_server, tmp_path):
    """Started while Redis is down (or having lost it: RQ's cron scheduler notices at its next minute), it waits."""
    redis_server.stop()
    log_path = tmp_path / "cron.log"
    with open(log_path, "ab") as log:
        cron = subprocess.Popen([sys.executable, "-m", "jobs.cron"], cwd=PROJECT_ROOT, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                env=worker_environment(app, 25, REDIS_URL=redis_server.url))

    def log_text() -> str:
        return "\n--- cron log ---\n" + log_path.read_text(errors="replace")

    def running() -> bool:
        if cron.poll() is not None:
            raise AssertionError(f"the cron process exited with {cron.returncode}{log_text()}")
        return True

    try:
        wait_until(lambda: running() and "trying again in 1 s" in log_path.read_text(), 60,
                   "the cron process to wait for Redis", on_timeout=log_text)
        redis_server.start()
        wait_until(lambda: running() and "jobs.sweeper.sweep" in {job.func_name for job in get_queue().get_jobs()},
                   30, "the sweeper to be enqueued", on_timeout=log_text)
        cron.send_signal(signal.SIGTERM)
        assert cron.wait(timeout=10) == 0
    finally:
        if cron.poll() is None:
            os.killpg(cron.pid, signal.SIGKILL)
            cron.wait()
