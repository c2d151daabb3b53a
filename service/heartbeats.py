"""Heartbeats: the long-running processes (workers, the cron process) say in Redis that they are alive.

Each process writes one key, `cop:heartbeat:QUEUE:ROLE:HOST:PID`, every
INTERVAL seconds, holding when it wrote it, its host and pid, and what it is
doing (a worker: whether its scheduler is running). Readiness reads the
newest of each role: older than STALE_AFTER means the process is gone or
stuck. A key outlives its process for a day, so "last seen" can be told.
"""
import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone

from redis import Redis

INTERVAL = 15           # seconds between a process's heartbeats
STALE_AFTER = 180       # seconds without one before a role is taken as gone
KEEP_FOR = 24 * 3600    # seconds a heartbeat key stays after its last write
ROLES = ("worker", "cron")


@dataclass(frozen=True)
class Heartbeat:
    role: str
    at: datetime
    host: str
    pid: int
    details: dict

    def age(self, moment: datetime) -> float:
        return (moment - self.at).total_seconds()


def _prefix(queue_name: str, role: str) -> str:
    return f"cop:heartbeat:{queue_name}:{role}:"


def record(connection: Redis, queue_name: str, role: str, at: datetime | None = None, host: str | None = None,
           pid: int | None = None, **details) -> None:
    """Write this process's heartbeat (tests pass `at`, `host` and `pid` to stand in for another process)."""
    host, pid = host or socket.gethostname(), pid or os.getpid()
    at = at or datetime.now(timezone.utc)
    value = json.dumps({"at": at.isoformat(), "host": host, "pid": pid, **details})
    connection.set(f"{_prefix(queue_name, role)}{host}:{pid}", value, ex=KEEP_FOR)


def clear(connection: Redis, queue_name: str, role: str) -> None:
    """Remove this process's heartbeat (it stops on purpose: readiness need not wait for it to go stale)."""
    connection.delete(f"{_prefix(queue_name, role)}{socket.gethostname()}:{os.getpid()}")


def read(connection: Redis, queue_name: str, role: str) -> list[Heartbeat]:
    """Every heartbeat of `role` still kept, newest first."""
    keys = list(connection.scan_iter(match=_prefix(queue_name, role) + "*", count=500))
    beats = []
    for raw in connection.mget(keys) if keys else []:
        if raw is None:  # expired between the scan and the read
            continue
        data = json.loads(raw)
        at = datetime.fromisoformat(data.pop("at"))
        beats.append(Heartbeat(role, at, data.pop("host"), int(data.pop("pid")), data))
    return sorted(beats, key=lambda beat: beat.at, reverse=True)
