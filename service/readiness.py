"""Whether the whole service can do its work now: what /readyz answers and `flask status` prints.

Ready means: the database answers, Redis answers, a worker whose scheduler
runs and the cron process have written a heartbeat within
heartbeats.STALE_AFTER, and no email or received message is stuck longer
than the sweeper would allow (which means the sweeper or every worker is
gone). Failed RQ jobs are counted, but do not make the service unready: RQ
keeps them for a year for a person to look at.

What is reported names each check and says why it failed, without
addresses, credentials or server messages (the page is public); `flask
status`, run by a person on the host, adds the error's own words.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.registry import FailedJobRegistry
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from service import clock, heartbeats
from service.extensions import db
from service.models import InboundMessage, OutboundEmail

TIMEOUT = 2            # seconds the database and Redis each get to answer
STUCK_ALLOWANCE = 300  # seconds past the sweeper's own threshold before a row counts as stuck


@dataclass
class Check:
    ok: bool
    detail: str
    values: dict = field(default_factory=dict)
    error: str = ""  # the error's own words: for a person on the host, never on the public page


@dataclass
class Report:
    checks: dict[str, Check]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if not check.ok]

    def as_json(self) -> dict:
        return {"status": "ready" if self.ready else "not ready", "failed": self.failed,
                "checks": {name: {"ok": check.ok, "detail": check.detail, **check.values}
                           for name, check in self.checks.items()}}


def report() -> Report:
    """Every check, in the order a person would look at them."""
    moment = clock.now()
    checks = {"database": _database()}
    checks["redis"], connection = _redis()
    if connection is None:
        for name in ("scheduler", "cron"):
            checks[name] = Check(False, "unknown: Redis does not answer")
    else:
        checks["scheduler"] = _scheduler(connection, moment)
        checks["cron"] = _cron(connection, moment)
    if checks["database"].ok:
        checks["outbox"] = _outbox(moment)
        checks["inbound"] = _inbound(moment)
    else:
        for name in ("outbox", "inbound"):
            checks[name] = Check(False, "unknown: the database does not answer")
    if connection is not None:
        checks["failed_jobs"] = _failed_jobs(connection)
    return Report(checks)


def _database() -> Check:
    try:
        with db.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text(f"SET LOCAL statement_timeout = {TIMEOUT * 1000}"))
            connection.execute(text("SELECT 1"))
            connection.rollback()
    except SQLAlchemyError as error:
        return Check(False, f"does not answer ({type(error).__name__})", error=str(error).splitlines()[0])
    return Check(True, "answers")


def _redis() -> tuple[Check, Redis | None]:
    connection = Redis.from_url(current_app.config["REDIS_URL"], socket_timeout=TIMEOUT,
                                socket_connect_timeout=TIMEOUT)
    try:
        connection.ping()
    except RedisError as error:
        return Check(False, f"does not answer ({type(error).__name__})", error=str(error)), None
    return Check(True, "answers"), connection


def _heartbeats(connection: Redis, role: str) -> list[heartbeats.Heartbeat]:
    return heartbeats.read(connection, current_app.config["RQ_QUEUE"], role)


def _seen(beat: heartbeats.Heartbeat, moment: datetime) -> dict:
    return {"last_seen_seconds_ago": round(beat.age(moment)), "host": beat.host, "pid": beat.pid}


def _scheduler(connection: Redis, moment: datetime) -> Check:
    """A worker whose scheduler runs: reminders, feedback requests and retries are scheduled jobs."""
    beats = _heartbeats(connection, "worker")
    live = [beat for beat in beats if beat.age(moment) <= heartbeats.STALE_AFTER]
    with_scheduler = [beat for beat in live if beat.details.get("scheduler")]
    values = {"workers": len(live)}
    if with_scheduler:
        return Check(True, f"{len(live)} worker(s) alive, one runs the scheduler",
                     {**values, **_seen(with_scheduler[0], moment)})
    if live:
        return Check(False, f"{len(live)} worker(s) alive, but none runs the scheduler", values)
    if beats:
        return Check(False, f"no worker has reported for {round(beats[0].age(moment))} s",
                     {**values, **_seen(beats[0], moment)})
    return Check(False, "no worker has ever reported", values)


def _cron(connection: Redis, moment: datetime) -> Check:
    """The one cron process: the sweeper and the digest tick are enqueued by it."""
    beats = _heartbeats(connection, "cron")
    if beats and beats[0].age(moment) <= heartbeats.STALE_AFTER:
        return Check(True, "reported", _seen(beats[0], moment))
    if beats:
        return Check(False, f"has not reported for {round(beats[0].age(moment))} s", _seen(beats[0], moment))
    return Check(False, "has never reported")


def _count(statement) -> int:
    with db.engine.connect() as connection:
        return connection.execute(statement).scalar_one()


def _outbox(moment: datetime) -> Check:
    """Emails left `sending` well past MAIL_SENDING_TIMEOUT: the sweeper would have taken them back."""
    cutoff = moment - timedelta(seconds=current_app.config["MAIL_SENDING_TIMEOUT"] + STUCK_ALLOWANCE)
    stuck = _count(select(func.count()).select_from(OutboundEmail)
                   .where(OutboundEmail.status == "sending", OutboundEmail.updated_at <= cutoff))
    if stuck:
        return Check(False, f"{stuck} email(s) stuck sending", {"stuck_sending": stuck})
    return Check(True, "nothing stuck sending", {"stuck_sending": 0})


def _inbound(moment: datetime) -> Check:
    """Received messages still waiting well past MAIL_SWEEP_GRACE: no worker or sweeper processes them."""
    cutoff = moment - timedelta(seconds=current_app.config["MAIL_SWEEP_GRACE"] + STUCK_ALLOWANCE)
    stuck = _count(select(func.count()).select_from(InboundMessage)
                   .where(InboundMessage.status == "received", InboundMessage.received_at <= cutoff))
    if stuck:
        return Check(False, f"{stuck} received message(s) waiting", {"stuck_received": stuck})
    return Check(True, "no received message waiting", {"stuck_received": 0})


def _failed_jobs(connection: Redis) -> Check:
    """Counted for a person to look at (`rq info`); they do not stop the service working."""
    try:
        count = FailedJobRegistry(queue=Queue(current_app.config["RQ_QUEUE"], connection=connection)).count
    except RedisError as error:
        return Check(False, f"unknown ({type(error).__name__})", error=str(error))
    return Check(True, f"{count} failed job(s) kept", {"count": count})
