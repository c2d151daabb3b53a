"""The Redis connection and RQ queue, and enqueueing that waits for the database commit."""
from collections.abc import Callable
from contextlib import contextmanager

from flask import current_app, g, has_app_context
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from service import request_id
from service.extensions import db

_PENDING = "cop_jobs_after_commit"
_GATHERED = "cop_jobs_gathered"


def redis_connection() -> Redis:
    """A Redis client for this app's REDIS_URL, shared per app."""
    client = current_app.extensions.get("cop_redis")
    if client is None:
        # An unreachable host fails in seconds instead of the system's TCP timeout (minutes).
        client = Redis.from_url(current_app.config["REDIS_URL"], socket_connect_timeout=5)
        current_app.extensions["cop_redis"] = client
    return client


class RequestQueue(Queue):
    """RQ's queue, whose jobs carry the id of the request that enqueued them (in job.meta) for their log lines.

    Every way of enqueueing (enqueue, enqueue_at, enqueue_many) makes its job here.
    """

    def create_job(self, *args, meta: dict | None = None, **kwargs):
        rid = request_id.current()
        if rid and request_id.META_KEY not in (meta or {}):
            meta = {**(meta or {}), request_id.META_KEY: rid}
        return super().create_job(*args, meta=meta, **kwargs)


def get_queue() -> Queue:
    return RequestQueue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def enqueue_after_commit(func_path: str, *args, job_id: str | None = None, at=None) -> None:
    """Enqueue a job once the current transaction commits; a rollback enqueues nothing.

    The database is the source of truth: a job enqueued before commit could run
    before its rows exist, and one enqueued in a transaction that rolls back
    would act on rows that never were. With `at` (an aware UTC datetime) the
    job is scheduled for then (RQ's scheduler runs in a worker started with
    --with-scheduler).
    """
    db.session().info.setdefault(_PENDING, []).append((func_path, args, job_id, at))


def cancel_after_commit(job_id: str) -> None:
    """Delete a scheduled job once the transaction commits (the job also re-checks the database)."""
    db.session().info.setdefault(_PENDING, []).append((None, (), job_id, None))


@contextmanager
def gathered(func_path: str, split: Callable[[list], list[list]]):
    """Within the block, the ids of every `func_path(ids)` job that commits would enqueue are gathered instead;
    at its end (even by an exception) they are enqueued as the jobs `split(ids)` cuts them into.

    Only ids whose transaction committed are gathered. A process that dies
    inside the block enqueues none of them: the work they stand for must be
    in the database for a sweeper to find (the outbox's pending rows are).
    """
    session = db.session()
    ids: list = []
    session.info.setdefault(_GATHERED, {})[func_path] = ids
    try:
        yield ids
    finally:
        session.info.get(_GATHERED, {}).pop(func_path, None)
        if ids:
            _enqueue_committed([(func_path, (batch,), None, None) for batch in split(ids)])


@event.listens_for(Session, "after_commit")
def _enqueue_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    gathering = session.info.get(_GATHERED, {})
    gathers = [job for job in pending if job[0] in gathering and job[2] is None and job[3] is None]
    for func_path, args, _job_id, _at in gathers:
        gathering[func_path].extend(args[0])
    _enqueue_committed([job for job in pending if job not in gathers])


def _enqueue_committed(pending: list) -> None:
    if not pending:
        return
    try:
        _enqueue(pending)
    except RedisError as error:
        # The work is committed: the sweeper (every minute) enqueues what the database says is due. Raising
        # here would answer a 500 for saved work, and a coordinator might send it again.
        current_app.logger.warning("Redis is unavailable; %d job(s) wait for the sweeper: %s", len(pending), error)
        if has_app_context():
            g.cop_enqueue_deferred = True


def enqueue_deferred() -> bool:
    """Whether work committed in this request could not be enqueued (it goes out with the sweeper)."""
    return bool(g.get("cop_enqueue_deferred"))


def _enqueue(pending: list) -> None:
    queue = get_queue()
    immediate = []
    for func_path, args, job_id, at in pending:
        if func_path is None:
            _delete_job(queue, job_id)
        elif at is not None:
            queue.enqueue_at(at, func_path, *args, job_id=job_id)
        else:
            immediate.append(queue.prepare_data(func_path, args=args, job_id=job_id))
    if immediate:
        queue.enqueue_many(immediate)


def _delete_job(queue: Queue, job_id: str) -> None:
    queue.scheduled_job_registry.remove(job_id, delete_job=True)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    session.info.pop(_PENDING, None)
