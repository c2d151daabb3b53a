"""Starts an RQ worker (with its scheduler) on this app's queue: `python -m jobs.worker`.

RQ's worker rides out a Redis outage only while it waits for a job; one that
loses Redis at any other moment (watching a work-horse, recording a job's end,
starting up) logs "unhandled exception, quitting" and returns. So this process
runs the worker in a loop: when a worker ends without being asked to stop, it
waits, with backoff, until Redis answers again and starts a fresh one (and its
scheduler) on the same warmed app. It needs nobody to restart it.

A job whose work-horse was running is not lost: the horse runs in its own
process group and carries on; it is waited for before the next worker starts,
so a worker never runs two jobs at once. What it could not record in Redis,
the database holds: outbox rows it leaves `sending` are sent again by the
sweeper, and reminders Redis lost are rescheduled by it.

While it lives, a thread writes its heartbeat (jobs.heartbeat), saying
whether its scheduler runs: /readyz and `flask status` read them.
"""
import logging
import sys
import time
from contextlib import suppress

from redis.exceptions import RedisError
from rq import Worker

from jobs.context import warm_up, worker_app
from jobs.heartbeat import HeartbeatThread
from jobs.reconnect import FIRST_WAIT, stop_on_signal, wait_for_redis
from service import request_id
from service.queue import get_queue, redis_connection

log = logging.getLogger("jobs.worker")


# How often a worker whose scheduler could not take the queue's lock (another worker's scheduler held it) tries
# again: a worker killed with the lock leaves it to expire a minute later (RQ's TTL), and a scheduler then runs
# again within these seconds, not at RQ's next maintenance, 10 minutes on.
SCHEDULER_LOCK_RETRY_SECONDS = 15


class ReconnectingWorker(Worker):
    """RQ's forking worker, which remembers whether it was asked to stop (SIGTERM, SIGINT) or quit by itself,
    restarts its scheduler as soon as it can reach Redis again, and takes the scheduler over soon after the
    worker that ran it died.

    A worker waiting for a job rides out a Redis outage, but its scheduler
    process dies of it; and a worker whose scheduler found the lock taken
    tries for it again only at its maintenance. RQ would do either only every
    10 minutes, holding back every retry and reminder until then.
    """

    asked_to_stop = False
    _lock_tried_at = 0.0

    def handle_warm_shutdown_request(self):
        self.asked_to_stop = True
        super().handle_warm_shutdown_request()

    @property
    def should_run_maintenance_tasks(self) -> bool:
        if self.asked_to_stop:  # its scheduler was stopped on purpose: starting it again would keep us alive
            return False
        process = self.scheduler and self.scheduler._process  # (RQ's maintenance reads it the same way)
        lock_retry_due = self._waits_for_scheduler_lock() and (
            time.monotonic() - self._lock_tried_at >= SCHEDULER_LOCK_RETRY_SECONDS)
        return bool(process and not process.is_alive()) or lock_retry_due or super().should_run_maintenance_tasks

    def run_maintenance_tasks(self):
        if self._waits_for_scheduler_lock() and not super().should_run_maintenance_tasks:
            self._lock_tried_at = time.monotonic()
            self.scheduler.acquire_locks(auto_start=True)  # only that: the registries were cleaned lately
        else:
            super().run_maintenance_tasks()

    @property
    def dequeue_timeout(self) -> int:
        """While its scheduler waits for the lock, waiting for a job wakes up in time to try for it again."""
        if self._waits_for_scheduler_lock():
            return min(super().dequeue_timeout, SCHEDULER_LOCK_RETRY_SECONDS)
        return super().dequeue_timeout

    def _waits_for_scheduler_lock(self) -> bool:
        """Whether this worker has a scheduler that never started: another's held the queue's lock."""
        scheduler = getattr(self, "scheduler", None)  # (RQ reads dequeue_timeout before it sets the attribute)
        return scheduler is not None and scheduler._process is None

    def execute_job(self, job, queue):
        """Run the job with the id of the request that enqueued it on every line logged meanwhile (horse included)."""
        with request_id.bound(job.meta.get(request_id.META_KEY)):
            super().execute_job(job, queue)


def main() -> int:
    app = worker_app()  # sets up the app's log format, which RQ's lines use too
    warm_up(app)
    with app.app_context():
        queue, connection = get_queue(), redis_connection()
        redis_url = app.config["REDIS_URL"]
    current: dict[str, Worker | None] = {"worker": None}
    heartbeat = HeartbeatThread(redis_url, queue.name, "worker",
                                lambda: {"scheduler": runs_scheduler(current["worker"])})
    heartbeat.start()
    try:
        return _work(queue, connection, current)
    finally:
        heartbeat.stop()


def runs_scheduler(worker: Worker | None) -> bool:
    """Whether this worker's scheduler process is alive and holds the queue's scheduler lock.

    (Only one worker's scheduler holds it; the others' stay idle until it is released or expires.)
    """
    scheduler = worker.scheduler if worker is not None else None
    process = scheduler._process if scheduler is not None else None  # (RQ's maintenance reads it the same way)
    return bool(process and process.is_alive() and scheduler.acquired_locks)


def _work(queue, connection, current: dict) -> int:
    while True:
        stop_on_signal()  # RQ's handlers belong to the worker that ended
        wait_for_redis(connection)
        try:
            worker = ReconnectingWorker([queue], connection=connection)  # it names itself in Redis
        except RedisError:
            continue  # gone again
        current["worker"] = worker
        try:
            worker.work(with_scheduler=True)
        except RedisError as error:  # raised where RQ catches nothing: starting up, or its own teardown
            log.error("worker %s lost Redis: %s", worker.name, error)
        if worker.asked_to_stop:
            return 0
        _finish_with(worker)
        time.sleep(FIRST_WAIT)  # never more than a fresh worker a second, whatever made this one quit
        wait_for_redis(connection)
        _release_scheduler_lock(worker)


def _finish_with(worker: Worker) -> None:
    """Let a worker that quit by itself leave nothing running but its work-horse's job, and wait for that."""
    if worker.pubsub_thread is not None:
        worker.pubsub_thread.stop()  # its command channel; the thread would otherwise retry Redis forever
    if worker.scheduler is not None:
        worker.stop_scheduler()
    if worker.horse_pid:
        log.warning("worker %s quit during a job: its work-horse %d finishes it first",
                    worker.name, worker.horse_pid)
        worker.wait_for_horse()


def _release_scheduler_lock(worker: Worker) -> None:
    """Release the lock its stopped scheduler held, so the next worker's scheduler starts at once.

    (The scheduler could not release it while Redis was down; a Redis that kept
    its data would make the next one wait up to RQ's maintenance interval, 10 minutes.)
    """
    if worker.scheduler is not None:
        with suppress(RedisError):  # gone again: the lock then expires by itself within a minute
            worker.scheduler.release_locks()


if __name__ == "__main__":
    sys.exit(main())
