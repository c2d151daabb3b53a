"""The deployed process set on servers of the test's own, for fault scenarios: tests/test_faults_end_to_end.py.

gunicorn (deploy/gunicorn.conf.py), two `python -m jobs.worker` and one
`python -m jobs.cron`, all with APP_ENV=production, against a PostgreSQL and
a Redis the test starts (and may stop, restart or cut off) and a real SMTP
server whose answers the test scripts. Never the machine's shared servers.

What the scenarios check after each fault, and the figures they print, are
here too: outbox rows by status, emails expected, received and received
twice, answers submitted and saved, and how long the service took to recover.
"""
import asyncio
import os
import re
import shutil
import sys
import threading
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import func, insert, select, text

from service import create_app
from service.communities import create_community
from service.coordinators import create_coordinator
from service.extensions import db
from service.models import Coordinator, Member, Membership, OutboundEmail
from tests import services
from tests.conftest import _reset_schema
from tests.postgres_server import PostgresServer, postgres_bin
from tests.smtp_server import SMTPServer, free_port
from tests.production_stack import BIN, Browser, Processes, production_environment
from tests.test_worker_redis_restart import RedisServer
from tests.worker_process import WorkerProcess, wait_until

PASSWORD = "a long enough password"
COORDINATOR = "dana@example.org"
DONE = ("sent", "failed")  # the outcomes a row may end in; `suppressed` is not expected for these members


class SMTPControl:
    """What the test's SMTP server does besides accepting mail: hold a batch mid-way, or answer 421 for a while."""

    def __init__(self, handler):
        self.handler = handler
        self.hold_from: int | None = None
        self.released = threading.Event()
        self.refusal_window: float | None = None  # seconds of 421, from the next recipient on
        self.refusing_until = 0.0
        self.refused = 0
        self.waiting = 0  # messages kept whose 250 is being held back: each a job in the middle of a message
        accept_data, accept_rcpt = handler.handle_DATA, handler.handle_RCPT

        async def handle_DATA(server, session, envelope):
            reply = await accept_data(server, session, envelope)  # the server has the message now
            give_up = time.monotonic() + 60
            self.waiting += 1
            try:
                while self.holding() and time.monotonic() < give_up:
                    await asyncio.sleep(0.01)
            finally:
                self.waiting -= 1
            return reply

        async def handle_RCPT(server, session, envelope, address, rcpt_options):
            if self.refusal_window is not None:
                self.refusing_until, self.refusal_window = time.monotonic() + self.refusal_window, None
            if time.monotonic() < self.refusing_until:
                self.refused += 1
                return "421 4.3.2 Service not available, closing transmission channel"
            return await accept_rcpt(server, session, envelope, address, rcpt_options)

        handler.handle_DATA, handler.handle_RCPT = handle_DATA, handle_RCPT

    def hold(self, after: int) -> None:
        """From the `after`-th message on, the answer to DATA waits (the message kept) until release()."""
        self.released.clear()
        self.hold_from = len(self.handler.messages) + after

    def holding(self) -> bool:
        return (self.hold_from is not None and not self.released.is_set()
                and len(self.handler.messages) >= self.hold_from)

    def release(self) -> None:
        self.released.set()
        self.hold_from = None

    def refuse_for(self, seconds: float) -> None:
        """Answer 421 to every recipient for `seconds`, starting with the next one (0: stop now)."""
        self.refusal_window = seconds or None
        if not seconds:
            self.refusing_until = 0.0

    def messages_to(self, addresses: list[str]) -> list:
        wanted = {address.lower() for address in addresses}
        with self.handler.lock:
            return [m for m in self.handler.messages if {r.lower() for r in m.rcpt_tos} & wanted]


class Deployment:
    """The servers, the processes and the test's own app (for SQL counts and setting up data) of one module."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.postgres = PostgresServer()
        self.redis = RedisServer(directory)
        self.smtp = SMTPServer()
        self.web_port = free_port()
        self.workers: list[WorkerProcess] = []
        self.processes: Processes | None = None
        self.app = None
        self.browser: Browser | None = None

    # --- starting and stopping ---------------------------------------------------------------------------

    def start(self) -> "Deployment":
        self.postgres.start()
        self.redis.start()
        self.smtp.__enter__()
        self.smtp_control = SMTPControl(self.smtp.handler)
        self.env = production_environment(self.postgres.url, self.redis.url, self.smtp.port, self.web_port)
        self.env.update({
            "INSTANCE_DIR": str(self.directory / "instance"),
            "MAIL_BATCH_SIZE": "40",           # a fan-out is several jobs, as a large one is
            "MAIL_RETRY_BASE_SECONDS": "1",    # retries after 1, 2, 4 ... seconds instead of minutes
            "MAIL_SWEEP_GRACE": "3",           # what Redis lost is put back within seconds
            "WEB_CONCURRENCY": "2",
        })
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": self.postgres.url, "REDIS_URL": self.redis.url,
                               "EMBEDDED_REDIS": False, "INSTANCE_DIR": str(self.directory / "instance"),
                               "MAIL_SUPPRESS_SEND": True, "RATELIMIT_STORAGE_URI": "memory://",
                               "SERVER_NAME": None, "TESTING": True})
        with self.app.app_context():
            _reset_schema()
            upgrade()
            create_coordinator(COORDINATOR, "Dana", PASSWORD)
            db.session.commit()
            db.session.remove()
        self.processes = Processes(self.env, self.directory)
        self.processes.start("web", str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py")
        self.processes.start("cron", sys.executable, "-m", "jobs.cron", "--interval", "2")
        for _number in range(2):
            self.start_worker()
        self.browser = Browser(self.web_port)
        self.wait_ready(90)
        _status, location = self.browser.submit("/login", email=COORDINATOR, password=PASSWORD)
        assert "/login" not in location, location
        return self

    def start_worker(self) -> WorkerProcess:
        """One more `python -m jobs.worker`, as systemd starts cop-worker@N (again, after a crash)."""
        worker = WorkerProcess(self.app, self.smtp.port, self.directory / f"worker{len(self.workers) + 1}.log")
        worker.env = self.env
        self.workers.append(worker.start())
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            with suppress(Exception):
                worker.cleanup()
        if self.processes is not None:
            self.processes.kill_leftovers()
        with suppress(Exception):
            self.smtp.__exit__()
        if self.redis.process is not None and self.redis.process.poll() is None:
            self.redis.stop()
        if self.app is not None:
            with self.app.app_context():
                db.engine.dispose()
        self.postgres.remove()

    # --- state of the processes ---------------------------------------------------------------------------

    def logs(self) -> str:
        text = self.processes.logs() if self.processes else ""
        return text + "".join(worker.log() for worker in self.workers)

    def logged(self, words: str) -> bool:
        """Whether any worker's log has these words."""
        return any(words in worker.log_path.read_text(errors="replace") for worker in self.live_workers())

    def live_workers(self) -> list[WorkerProcess]:
        return [worker for worker in self.workers if worker.process.poll() is None]

    def check_alive(self) -> None:
        """The web and cron processes, and the workers not killed on purpose, still run."""
        self.processes.check_alive()
        for worker in self.workers:
            if worker.process.returncode not in (None, -9) and worker.process.poll() is not None:
                raise AssertionError(f"worker {worker.pid} exited with {worker.process.returncode}{self.logs()}")

    def ready(self) -> bool:
        """gunicorn answers /readyz with 200: the database, Redis, the workers and cron all report."""
        self.check_alive()
        try:
            return self.browser.request("GET", "/readyz")[0] == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float = 60) -> float:
        """Seconds until the whole service is ready."""
        started = time.monotonic()
        wait_until(self.ready, timeout, "the service to be ready (/readyz)", interval=0.2,
                   on_timeout=lambda: f" {self._readyz()}{self.logs()}")
        return time.monotonic() - started

    def _readyz(self) -> str:
        with suppress(OSError):
            return self.browser.request("GET", "/readyz")[2]
        return "(no answer)"

    def busy_worker(self) -> tuple[WorkerProcess, list[int]] | None:
        """A live worker whose work-horse is sending a delivery job's rows, and the job's outbox ids; or None.

        (Redis may still list a worker object that process ran before a Redis
        restart, with the job it had then: a job counts only while rows of it are `sending`.)
        """
        from rq import Worker
        from service.queue import get_queue, redis_connection
        with self.app.app_context():
            jobs = [(rq_worker.pid, rq_worker.get_current_job())
                    for rq_worker in Worker.all(connection=redis_connection(), queue=get_queue())]
        for pid, job in jobs:
            if job is None or job.func_name != "jobs.delivery.deliver":
                continue
            ids = list(job.args[0])
            sending = self.sql("SELECT count(*) FROM outbound_email WHERE status = 'sending' AND id = ANY(:ids)",
                               ids=ids)[0][0]
            for worker in self.live_workers():
                if sending and worker.pid == pid and len(worker.session()) >= 3:
                    return worker, ids
        return None

    # --- data ---------------------------------------------------------------------------------------------

    def community_with_members(self, name: str, count: int) -> tuple[int, list[str]]:
        """A community of `count` members (added in bulk: no welcome emails); its id and their addresses."""
        slug = re.sub(r"\W+", "-", name.lower())
        with self.app.app_context():
            coordinator = db.session.scalar(select(Coordinator).where(Coordinator.email == COORDINATOR))
            community = create_community(coordinator, name=name, time_zone="America/Chicago")
            db.session.flush()
            addresses = [f"member{i:04d}@{slug}.example.net" for i in range(count)]
            db.session.execute(insert(Member), [{"email": a, "name": f"Member {i}"} for i, a in enumerate(addresses)])
            people = db.session.scalars(select(Member).where(Member.email.in_(addresses))).all()
            db.session.execute(insert(Membership), [{"community_id": community.id, "member_id": m.id,
                                                     "name": m.name, "language": m.language} for m in people])
            db.session.commit()
            community_id = community.id
            db.session.remove()
        return community_id, addresses

    def announce(self, community_id: int, subject: str) -> None:
        """The coordinator writes to the whole community through gunicorn, as from the dashboard."""
        self.browser.submit(f"/communities/{community_id}/announcements/new", subject=subject,
                            body="Our next meeting moves to Thursday at 10:00.")

    def sql(self, statement: str, **params):
        with self.app.app_context():
            try:
                result = db.session.execute(text(statement), params)
                return result.all() if result.returns_rows else result.rowcount
            finally:
                db.session.commit()
                db.session.remove()

    def statuses(self, community_id: int) -> dict[str, int]:
        with self.app.app_context():
            try:
                return dict(db.session.execute(
                    select(OutboundEmail.status, func.count()).where(OutboundEmail.community_id == community_id)
                    .group_by(OutboundEmail.status)).all())
            finally:
                db.session.remove()

    def wait_settled(self, community_id: int, expected: int, timeout: float = 120) -> float:
        """Seconds until every one of the community's `expected` outbox rows is sent or failed."""
        started = time.monotonic()

        def settled():
            self.check_alive()
            counts = self.statuses(community_id)
            return sum(counts.values()) == expected and set(counts) <= set(DONE)
        wait_until(settled, timeout, f"the {expected} emails to be sent or failed", interval=0.2,
                   on_timeout=lambda: f" {self.statuses(community_id)}{self.logs()}")
        return time.monotonic() - started

    def received(self, subject: str) -> Counter:
        """How many messages with this subject each address received."""
        with self.smtp.handler.lock:
            messages = list(self.smtp.handler.messages)
        return Counter(rcpt.lower() for m in messages if m.message["Subject"] == subject for rcpt in m.rcpt_tos)


def start_deployment(tmp_path_factory):
    """A Deployment for a module's tests (a generator for a module-scoped fixture): stopped at the end."""
    services.require(postgres_bin() is not None and (os.geteuid() != 0 or shutil.which("runuser")),
                     "PostgreSQL's initdb and pg_ctl")
    deployment = Deployment(tmp_path_factory.mktemp("deployment"))
    try:
        yield deployment.start()
    finally:
        deployment.stop()


def email_figures(deployment: Deployment, community_id: int, subject: str, addresses: list[str],
                  jobs_died: int) -> dict:
    """The invariants after a fault, asserted, and the figures that show them.

    Every address got the email, at most one extra copy per job that died
    (the one message a dead job may hand to SMTP without recording it), and
    every outbox row ended `sent` or `failed`.
    """
    got = deployment.received(subject)
    statuses = deployment.statuses(community_id)
    duplicates = sum(n - 1 for n in got.values())
    figures = {"emails expected": len(addresses), "emails received": len(set(got) & set(addresses)),
               "duplicates": duplicates, "jobs that died": jobs_died,
               "rows by status": dict(sorted(statuses.items()))}
    assert set(statuses) <= set(DONE) and sum(statuses.values()) == len(addresses), figures
    assert set(got) == set(addresses), f"lost: {sorted(set(addresses) - set(got))[:5]} {figures}"
    assert duplicates <= jobs_died, figures
    return figures


def report(record_property, fault: str, figures: dict) -> None:
    """Print a fault's figures (seen with -s) and record them for the run's summary (tests/conftest.py)."""
    line = f"{fault}: " + "; ".join(f"{name} {value:.1f} s" if isinstance(value, float) else f"{name} {value}"
                                    for name, value in figures.items())
    print("\n" + line)
    record_property("figures", line)
