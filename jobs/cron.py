"""Enqueues the periodic jobs, the sweeper, the digest tick and the health figures' tick every minute (and the
IMAP poll when a mailbox is set): `python -m jobs.cron`, one per deployment.

It runs RQ's cron scheduler, which stops for good at the first Redis error,
taking with it the sweeper that puts back whatever Redis lost. So, like the
worker, this process waits for Redis (jobs.reconnect) and starts a fresh
scheduler, which enqueues both jobs at once. While its scheduler runs, a
thread writes the cron heartbeat that /readyz and `flask status` read.
"""
import argparse
import logging
import sys
import time

from redis.exceptions import RedisError
from rq.cron import CronScheduler

from jobs.digests import tick
from jobs.community_health import tick as health_tick
from jobs.heartbeat import HeartbeatThread
from jobs.inbound import poll_imap
from jobs.reconnect import FIRST_WAIT, stop_on_signal, wait_for_redis
from jobs.sweeper import sweep
from service import create_app
from service.queue import redis_connection

INTERVAL = 60  # seconds

log = logging.getLogger("jobs.cron")


class StoppableCronScheduler(CronScheduler):
    """RQ's cron scheduler, remembering whether it was asked to stop (SIGTERM, SIGINT) or lost Redis."""

    asked_to_stop = False

    def _request_stop(self, signum, frame):
        if self.asked_to_stop:  # a second signal (Ctrl-C, then `make run` stopping it) while it unregisters
            return
        self.asked_to_stop = True
        super()._request_stop(signum, frame)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.cron", description=__doc__.splitlines()[0])
    parser.add_argument("--logging-level", default="INFO", help="INFO (default), WARNING, ...")
    parser.add_argument("--interval", type=int, default=INTERVAL, help=f"seconds between runs (default {INTERVAL})")
    arguments = parser.parse_args(argv)
    level, interval = arguments.logging_level.upper(), arguments.interval
    app = create_app()  # sets up the app's log format, which RQ's lines use too
    for name in ("jobs", "rq.cron"):
        logging.getLogger(name).setLevel(level)
    with app.app_context():
        connection, queue_name = redis_connection(), app.config["RQ_QUEUE"]
    periodic = [(sweep, interval), (tick, interval), (health_tick, interval)]
    if app.config["INBOUND_IMAP_HOST"]:  # replies read from a mailbox; one pass at a time (a lock in the job)
        periodic.append((poll_imap, app.config["INBOUND_IMAP_INTERVAL"]))
    current: dict[str, CronScheduler | None] = {"scheduler": None}
    heartbeat = HeartbeatThread(app.config["REDIS_URL"], queue_name, "cron",
                                lambda: {"running": current["scheduler"] is not None})
    heartbeat.start()
    try:
        return _run(connection, queue_name, level, periodic, current)
    finally:
        heartbeat.stop()


def _run(connection, queue_name: str, level: str, periodic: list, current: dict) -> int:
    while True:
        stop_on_signal()  # RQ's handlers belong to the scheduler that ended
        wait_for_redis(connection)
        scheduler = StoppableCronScheduler(connection=connection, logging_level=level)
        for job, every in periodic:
            scheduler.register(job, queue_name=queue_name, interval=every)
        current["scheduler"] = scheduler
        try:
            scheduler.start()
        except RedisError as error:
            log.error("cron scheduler %s lost Redis: %s", scheduler.name, error)
        current["scheduler"] = None
        if scheduler.asked_to_stop:
            return 0
        time.sleep(FIRST_WAIT)


if __name__ == "__main__":
    sys.exit(main())
