"""What the long-running RQ processes (worker, cron) do between losing Redis and starting again.

RQ's own loops give up on a Redis error at most moments; ours wait here until
Redis answers, then start a fresh RQ object in the same process.
"""
import logging
import signal
import time

from redis import Redis
from redis.exceptions import RedisError

FIRST_WAIT, LONGEST_WAIT = 1.0, 30.0  # seconds between tries to reach Redis again

log = logging.getLogger("jobs.reconnect")


def wait_for_redis(connection: Redis) -> None:
    """Return once Redis answers, trying again after 1, 2, 4 ... up to 30 seconds."""
    delay = FIRST_WAIT
    while True:
        try:
            connection.ping()
            return
        except RedisError as error:  # refused, timed out, or still loading its data
            log.warning("Redis does not answer (%s): trying again in %.0f s", error, delay)
        time.sleep(delay)
        delay = min(delay * 2, LONGEST_WAIT)


def stop_on_signal() -> None:
    """Until RQ installs its handlers again, SIGTERM or SIGINT ends the process (there is no job to finish)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit)


def _exit(signum, frame):
    raise SystemExit(0)
