"""A worker whose scheduler finds the queue's lock held by a worker that died (killed with the machine, say)
takes the scheduler over soon after that lock expires, so retries and reminders go on; RQ alone would try
again only at its maintenance, 10 minutes on. The deployed version is in tests/test_faults_end_to_end.py."""
from datetime import datetime, timezone

from rq.scheduler import RQScheduler

from jobs.worker import SCHEDULER_LOCK_RETRY_SECONDS
from service.queue import get_queue, redis_connection
from tests.test_worker_redis_restart import announce, statuses
from tests.worker_process import WorkerProcess, wait_until

DEAD_LOCK_SECONDS = 3  # what is left of the dead scheduler's lock (RQ gives it a minute at each heartbeat)


def test_a_worker_takes_the_scheduler_over_soon_after_a_dead_workers_lock_expires(app, ctx, personas, smtp,
                                                                                  tmp_path):
    retry = announce(personas["riverside"], "retry", 2)
    queue = get_queue()
    queue.empty()
    lock = RQScheduler.get_locking_key(queue.name)
    redis_connection().set(lock, "scheduler-of-a-dead-worker", ex=60)
    worker = WorkerProcess(app, app.config["MAIL_PORT"], tmp_path / "worker.log").start().wait_ready()
    try:
        wait_until(lambda: "cleaning registries" in worker.log_path.read_text(errors="replace"), 30,
                   "the worker's start-up maintenance, after its scheduler found the lock taken")
        redis_connection().expire(lock, DEAD_LOCK_SECONDS)
        queue.enqueue_at(datetime.now(timezone.utc), "jobs.delivery.deliver", retry)  # as a retry is
        wait_until(lambda: statuses(retry) == {"sent": 2}, DEAD_LOCK_SECONDS + SCHEDULER_LOCK_RETRY_SECONDS + 20,
                   "the scheduled job to run", on_timeout=lambda: f" {statuses(retry)}{worker.log()}")
        assert "Acquired scheduler lock" in worker.log_path.read_text(errors="replace")
    finally:
        worker.cleanup()
