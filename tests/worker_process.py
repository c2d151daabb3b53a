"""Real RQ worker processes for fault tests: `python -m jobs.worker`, configured from the environment.

Each worker runs the production entry point (a forking RQ worker with its
scheduler) in a session of its own, so the test can kill exactly its
processes (worker, work horse, scheduler) at once, as a machine or container
dying would.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from service.config import PROJECT_ROOT

# Settings the worker must take from us, never from whatever the test run's environment holds.
_OURS = ("APP_ENV", "DATABASE_URL", "REDIS_URL", "RQ_QUEUE", "SECRET_KEY", "INBOUND_DOMAIN", "PUBLIC_BASE_URL",
         "INSTANCE_DIR")


def wait_until(predicate, timeout: float, what: str, interval: float = 0.02, on_timeout=None):
    """Poll `predicate` until it returns something truthy (which is returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = on_timeout() if on_timeout else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{detail}")
        time.sleep(interval)


def worker_environment(app, mail_port: int, **settings) -> dict[str, str]:
    """The environment a deployed worker would have, pointing at the test's database, Redis and SMTP server."""
    env = {k: v for k, v in os.environ.items() if k not in _OURS and not k.startswith("MAIL_")}
    config = app.config
    env.update({
        "APP_ENV": "development",
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": config["REDIS_URL"],
        "RQ_QUEUE": config["RQ_QUEUE"],
        "SECRET_KEY": config["SECRET_KEY"],
        "INBOUND_DOMAIN": config["INBOUND_DOMAIN"],
        "PUBLIC_BASE_URL": config["PUBLIC_BASE_URL"],
        "INSTANCE_DIR": config["INSTANCE_DIR"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mail_port),
        "PYTHONUNBUFFERED": "1",
    })
    env.update({name: str(value) for name, value in settings.items()})
    return env


class WorkerProcess:
    """One `python -m jobs.worker` process (and its work horse and scheduler children)."""

    def __init__(self, app, mail_port: int, log_path: Path, **settings):
        self.app = app
        self.log_path = log_path
        self.env = worker_environment(app, mail_port, **settings)
        self.process: subprocess.Popen | None = None

    def start(self) -> "WorkerProcess":
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "jobs.worker"], cwd=PROJECT_ROOT, env=self.env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"\n--- worker {self.pid} log (last lines) ---\n" + "\n".join(text.splitlines()[-40:])

    def is_registered(self) -> bool:
        """True once RQ lists this process as a worker on the app's queue (it is ready to take jobs)."""
        from rq import Worker
        from service.queue import get_queue, redis_connection
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited with {self.process.returncode} before it was ready{self.log()}")
        with self.app.app_context():
            return any(w.pid == self.pid for w in Worker.all(connection=redis_connection(), queue=get_queue()))

    def wait_ready(self, timeout: float = 30) -> "WorkerProcess":
        wait_until(self.is_registered, timeout, f"worker {self.pid} to register", interval=0.05,
                   on_timeout=self.log)
        return self

    def session(self) -> list[int]:
        """Live processes of this worker's session: the worker, its scheduler and its work horse.

        (RQ puts the horse in a process group of its own, so killing the worker's
        group would leave the horse sending; the session holds them all.)
        """
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == self.pid and fields[0] not in ("Z", "X"):
                found.append(int(entry))
        return found

    def _signal_session(self, sig: int) -> set[int]:
        signalled: set[int] = set()
        while True:
            new = set(self.session()) - signalled
            if not new:
                return signalled
            for pid in sorted(new):
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            signalled |= new

    def kill(self) -> None:
        """Die like a machine: freeze the worker, its horse (mid-job) and its scheduler, then SIGKILL them all."""
        self._signal_session(signal.SIGSTOP)
        self._signal_session(signal.SIGKILL)
        self.process.wait(timeout=30)
        wait_until(lambda: not self.session(), 30, f"worker {self.pid}'s processes to die")

    def stop(self, timeout: float = 30) -> int:
        """Warm shutdown (SIGTERM to the worker): it finishes the job in hand, then exits."""
        if self.process.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker {self.pid} did not stop within {timeout:.0f} s{self.log()}") from None
        self.cleanup()
        return code

    def cleanup(self) -> None:
        """Make sure nothing of this worker is left running (a scheduler or horse outliving its parent)."""
        if self.process is not None and (self.process.poll() is None or self.session()):
            self.kill()
