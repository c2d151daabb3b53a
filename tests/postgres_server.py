"""A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), which the test stops and starts.

Never the machine's shared server: other test runs use that one. As root,
the server runs as the `postgres` user (PostgreSQL refuses to run as root),
in a directory of its own under the system's temporary folder.
"""
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.smtp_server import free_port
from tests.worker_process import wait_until


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda path: int(path.split("/")[4]))
    return Path(found[-1]).parent if found else None


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


class PostgresServer:
    """One cluster, initialised on first start; `url` points at its `cop` database."""

    def __init__(self):
        self.bin = postgres_bin()
        self.directory = Path(tempfile.mkdtemp(prefix="cop-test-pg-"))
        self.data = self.directory / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/cop"
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.directory, user.pw_uid, user.pw_gid)

    def _run(self, *args: str) -> None:
        subprocess.run([*_as_server_user(), *args], check=True, capture_output=True, cwd=self.directory)

    def start(self) -> "PostgresServer":
        first = not self.data.exists()
        if first:
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "--no-sync", "-E", "UTF8")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w",
                  "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        if first:
            with create_engine(self.url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT").connect() as c:
                c.execute(text("CREATE DATABASE cop"))
        wait_until(self.answers, 30, "PostgreSQL to answer", interval=0.1)
        return self

    def answers(self) -> bool:
        engine = create_engine(self.url, poolclass=None)
        try:
            with engine.connect() as connection:
                return connection.execute(text("SELECT 1")).scalar() == 1
        except Exception:
            return False
        finally:
            engine.dispose()

    def stop(self) -> None:
        """A fast shutdown: open connections are cut, as a restart by the service manager does."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
