"""Why a page got slower: the CPU each group of processes took in a phase, and what PostgreSQL waited on.

`CpuShare` reads /proc (process trees, children that exited included) and the
machine's total busy time, so a figure says whether the web workers lost the
CPU to the delivery workers, to PostgreSQL, or to something else on the
machine. `LockSampler` looks at pg_stat_activity twice a second from a
connection of its own and counts, per phase, the backends of the benchmark's
database waiting on a lock (and on what) and the active ones.
"""
import os
import threading
import time
from collections import Counter
from pathlib import Path

from fanout import cpu_seconds, database_cpu_seconds


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(child) for child in task.read_text().split())
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    return [found for child in _children(pid) for found in (child, *descendants(child))]


def tree_cpu_seconds(pid: int) -> float:
    """CPU of a process, of the children it reaped, and of every live descendant (each counted once)."""
    try:
        total = cpu_seconds(pid)
    except (OSError, IndexError):  # exited since we looked
        return 0.0
    return total + sum(tree_cpu_seconds(child) for child in _children(pid))


def runqueue_wait_seconds(pid: int) -> float:
    """How long this process has been runnable but waiting for a CPU (its thread group leader's schedstat)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def machine_busy_seconds() -> float:
    """CPU time spent on anything but idle and iowait, all cores, since boot."""
    fields = [int(value) for value in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # user nice system idle iowait irq softirq steal
    return busy / os.sysconf("SC_CLK_TCK")


class CpuShare:
    """CPU seconds per named group of process trees (and PostgreSQL, and the machine) between mark()s."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self._waits: dict[int, float] = {}
        self.waited: dict[str, float] = {}
        self._read_waits()
        self._last = self._read()
        self._last_time = time.monotonic()

    def _read_waits(self) -> dict[str, float]:
        """Seconds each group's live processes waited for a CPU since the last read (a process that exited
        meanwhile is missing: an underestimate)."""
        waited, seen = {}, {}
        for name, pids in self.groups.items():
            waited[name] = 0.0
            for pid in [found for root in pids for found in (root, *descendants(root))]:
                seen[pid] = runqueue_wait_seconds(pid)
                waited[name] += seen[pid] - self._waits.get(pid, 0.0)
        self._waits = seen
        return waited

    def _read(self) -> dict[str, float]:
        figures = {name: sum(tree_cpu_seconds(pid) for pid in pids) for name, pids in self.groups.items()}
        figures["PostgreSQL"] = database_cpu_seconds()
        figures["this client (50 members)"] = sum(os.times()[:2])
        figures["machine"] = machine_busy_seconds()
        return figures

    def mark(self) -> dict[str, float]:
        """CPU seconds per group since the last mark, with 'wall' seconds and 'other processes'."""
        now, now_time = self._read(), time.monotonic()
        self.waited = self._read_waits()
        spent = {name: now[name] - self._last.get(name, 0.0) for name in now}  # a group added since: all its CPU
        spent["other processes"] = spent["machine"] - sum(value for name, value in spent.items()
                                                           if name != "machine")
        spent["wall"] = now_time - self._last_time
        self._last, self._last_time = now, now_time
        return spent


def describe_cpu(spent: dict[str, float], waited: dict[str, float]) -> str:
    """Cores busy per group, then how many of each group's processes were, on average, ready to run but
    waiting for a core (a starved group shows here, not in its CPU)."""
    cores = os.cpu_count() or 1
    wall = spent["wall"] or 1.0
    parts = [f"{name} {value / wall:.2f}" for name, value in spent.items() if name not in ("wall", "machine")]
    queued = [f"{name} {value / wall:.2f}" for name, value in waited.items()]
    return (f"cores busy (of {cores}) over {wall:.0f} s: " + ", ".join(parts)
            + f"; machine {spent['machine'] / wall:.2f}. Waiting for a core: " + ", ".join(queued))


class LockSampler:
    """Samples pg_stat_activity every `every` seconds into the current phase, until stop()."""

    QUERY = ("SELECT a.wait_event_type, a.wait_event, a.state, "
             "(SELECT string_agg(DISTINCT coalesce(l.relation::regclass::text, l.locktype) || ' ' || l.mode, ', ') "
             " FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted) "
             "|| ': ' || left(regexp_replace(a.query, '\\s+', ' ', 'g'), 60) || ' behind ' "
             "|| coalesce((SELECT b.state || ' ' || left(regexp_replace(b.query, '\\s+', ' ', 'g'), 60) "
             "   FROM pg_stat_activity b WHERE b.pid = (pg_blocking_pids(a.pid))[1]), '?') "
             "FROM pg_stat_activity a WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() "
             "AND a.backend_type = 'client backend'")

    def __init__(self, engine, every: float = 0.5):
        self.engine, self.every = engine, every
        self.phase = "warm-up"
        self.samples: Counter = Counter()
        self.active: Counter = Counter()
        self.lock_waits: Counter = Counter()
        self.max_lock_waiters: Counter = Counter()
        self.waiting_on: dict[str, Counter] = {}
        self.wait_events: dict[str, Counter] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        from sqlalchemy import text
        with self.engine.connect() as connection:
            while not self._stop.wait(self.every):
                rows = connection.execute(text(self.QUERY)).all()
                connection.rollback()
                phase = self.phase
                waiting = [row for row in rows if row[0] == "Lock"]
                self.samples[phase] += 1
                self.active[phase] += sum(1 for row in rows if row[2] == "active")
                self.lock_waits[phase] += len(waiting)
                self.max_lock_waiters[phase] = max(self.max_lock_waiters[phase], len(waiting))
                self.waiting_on.setdefault(phase, Counter()).update(row[3] or row[1] for row in waiting)
                self.wait_events.setdefault(phase, Counter()).update(
                    f"{row[0]}:{row[1]}" for row in rows if row[2] == "active" and row[0])

    def describe(self, phase: str) -> str:
        samples = self.samples[phase] or 1
        text = (f"{self.samples[phase]} samples: active backends {self.active[phase] / samples:.1f} on average, "
                f"waiting on a lock {self.lock_waits[phase] / samples:.2f} on average "
                f"(at most {self.max_lock_waiters[phase]})")
        if self.waiting_on.get(phase):
            text += "; lock waits on " + ", ".join(f"{what} x{count}"
                                                   for what, count in self.waiting_on[phase].most_common(3))
        if self.wait_events.get(phase):
            text += "; active backends' waits " + ", ".join(f"{what} x{count}"
                                                            for what, count in self.wait_events[phase].most_common(4))
        return text
