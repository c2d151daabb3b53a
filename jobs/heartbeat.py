"""A thread that writes this process's heartbeat (service.heartbeats) while the process lives.

A thread, because the worker's own loop can block for minutes (waiting for a
job, watching a long one) and the cron scheduler sleeps between minutes. It
uses a Redis client of its own, which no forked work-horse ever touches, and
rides out a Redis outage by trying again at the next beat.
"""
import logging
import threading
from collections.abc import Callable

from redis import Redis
from redis.exceptions import RedisError

from service import heartbeats

log = logging.getLogger("jobs.heartbeat")


class HeartbeatThread(threading.Thread):
    """Every heartbeats.INTERVAL seconds, record `role` with what `describe()` returns."""

    def __init__(self, redis_url: str, queue_name: str, role: str, describe: Callable[[], dict]):
        super().__init__(name=f"heartbeat-{role}", daemon=True)
        self.connection = Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.queue_name, self.role, self.describe = queue_name, role, describe
        self.stopped = threading.Event()
        self.failing = False

    def run(self) -> None:
        while not self.stopped.is_set():
            self.beat()
            self.stopped.wait(heartbeats.INTERVAL)

    def beat(self) -> None:
        try:
            heartbeats.record(self.connection, self.queue_name, self.role, **self.describe())
        except RedisError as error:
            if not self.failing:  # once per outage, not every beat
                log.warning("could not write the %s heartbeat: %s", self.role, error)
            self.failing = True
        else:
            self.failing = False

    def stop(self) -> None:
        """Stop beating and remove the heartbeat (a process stopped on purpose is not a failure to report)."""
        self.stopped.set()
        try:
            heartbeats.clear(self.connection, self.queue_name, self.role)
        except RedisError:
            pass  # it goes stale, then expires
