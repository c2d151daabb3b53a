"""gunicorn serving wsgi:app for the benchmarks that measure through HTTP.

One gthread server on a free localhost port, started and stopped by the
benchmark; with `config`, as deploy/gunicorn.conf.py runs it (its logging,
max_requests and timeouts), the worker model still given on the command line.
"""
import http.client
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fanout  # free_port, CPU from /proc

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_CONFIG = ROOT / "deploy" / "gunicorn.conf.py"


def add_load_arguments(parser) -> None:
    """The load runs' options: clients, seconds per run, and gunicorn's worker model (gthread, 2 x 8 as the issue
    measured it)."""
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each load run")
    parser.add_argument("--gunicorn-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="gthread threads per gunicorn worker")


def served_app(args, name: str):
    """(app, env, log_dir) for a benchmark that serves the app: the settings gunicorn gets (the benchmark's
    database and Redis db, no mail relay, rate limiting off: every client here shares one IP), the same in this
    process, its app with the Redis db flushed and the schema rebuilt; logs under a new cop-bench-NAME- folder."""
    log_dir = Path(tempfile.mkdtemp(prefix=f"cop-bench-{name}-"))
    env = {**os.environ, "DATABASE_URL": args.database_url, "REDIS_URL": args.redis_url,
           "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": "2", "RATELIMIT_ENABLED": "false",
           "SECRET_KEY": f"bench-{name}-secret-key-0123456789abcdef", "INSTANCE_DIR": str(log_dir / "instance"),
           "PYTHONPATH": str(ROOT)}
    os.environ.update(env)
    from redis import Redis
    from service import create_app
    app = create_app()
    Redis.from_url(args.redis_url).flushdb()
    fanout.reset_schema(app)
    return app, env, log_dir


class Server:
    """gunicorn on a free localhost port, until stop(); a deployment's configuration may take minutes to boot
    on a loaded machine, hence `boot_seconds`."""

    def __init__(self, env: dict, workers: int, threads: int, log_dir: Path, config: Path | None = None,
                 boot_seconds: float = 30):
        self.port = fanout.free_port()
        self.log_path = log_dir / "gunicorn.log"
        self.log = open(self.log_path, "ab")
        options = ["--config", str(config)] if config else ["--graceful-timeout", "5"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *options, "--workers", str(workers), "--worker-class", "gthread",
             "--threads", str(threads), "--keep-alive", "30", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + boot_seconds
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gunicorn did not start; see {log_dir / 'gunicorn.log'}")

    def worker_boots(self) -> int:
        """Workers booted so far, the first ones included: each costs about a second of CPU (importing the app),
        and max_requests makes gunicorn boot one in place of a worker that served its share."""
        self.log.flush()
        return self.log_path.read_bytes().count(b"Booting worker with pid")

    def cpu_seconds(self) -> float:
        """CPU of the master, its live workers and the workers it has reaped (max_requests replaces them)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        total = fanout.cpu_seconds(self.process.pid)
        for pid in children:
            try:
                total += fanout.cpu_seconds(int(pid))
            except OSError:  # replaced since the listing; its time is in the master's cutime once reaped
                pass
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
