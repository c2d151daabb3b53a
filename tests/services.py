"""Finding the real PostgreSQL and Redis for tests, or starting embedded stand-ins.

In CI (CI=true) a missing service fails the run instead of quietly falling
back: CI must prove the code against the real servers.

Under pytest-xdist each worker (gw0, gw1, ...) has a database and a Redis db
of its own, derived from TEST_DATABASE_URL and REDIS_URL: the tests empty both
before every test, so two workers sharing one would wipe each other's data.
"""
import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from redis import Redis
from redis.exceptions import ResponseError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from service.config import _database_url

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Fail in CI, skip elsewhere, when something a test needs is missing."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
        pytest.skip(f"{what} is not available")


def xdist_worker() -> int | None:
    """This pytest-xdist worker's number (0 for gw0, ...), or None when the tests run in one process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("TEST_DATABASE_URL must point at PostgreSQL in CI", pytrace=False)
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"  # tmp folders are per worker
    url = _database_url(url)
    try:
        if xdist_worker() is not None:
            url = worker_database(url, xdist_worker())
        with create_engine(url).connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:
        pytest.fail(f"TEST_DATABASE_URL={url} is not reachable: {exc}", pytrace=False)
    return url


def worker_database(url: str, worker: int) -> str:
    """The database `<name>_gw<worker>` on the same server (test -> test_gw0), created if missing."""
    base = make_url(url)
    return create_database_if_missing(base.set(database=f"{base.database}_gw{worker}"))


def create_database_if_missing(url: URL) -> str:
    """Create the URL's PostgreSQL database unless it exists, through the server's maintenance database."""
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            exists = connection.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                                        {"name": url.database}).first()
            if exists is None:
                connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    finally:
        admin.dispose()
    return url.render_as_string(hide_password=False)


def worker_redis_url(url: str, worker: int) -> str:
    """REDIS_URL's db number plus the worker's (db 13 -> 13 for gw0, 14 for gw1), on the same server."""
    client = Redis.from_url(url)
    number = int(client.connection_pool.connection_kwargs.get("db") or 0) + worker
    try:
        available = int(client.config_get("databases").get("databases", 16))
    except ResponseError:  # CONFIG refused (a managed Redis): the default count
        available = 16
    if number >= available:
        pytest.fail(f"REDIS_URL={url}: xdist worker gw{worker} would use Redis db {number}, but the server has "
                    f"{available}; give REDIS_URL a db number lower by the number of workers", pytrace=False)
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = urlencode([*((k, v) for k, v in parse_qsl(parts.query) if k != "db"), ("db", number)])
        return urlunsplit(parts._replace(query=query))
    return urlunsplit(parts._replace(path=f"/{number}"))


def redis_url_or_start(tmp_path_factory):
    """(url, process or None): REDIS_URL if set and answering, else an embedded redis-server."""
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            Redis.from_url(url).ping()
            if xdist_worker() is not None:
                url = worker_redis_url(url, xdist_worker())
        except Exception as exc:
            pytest.fail(f"REDIS_URL={url} is not reachable: {exc}", pytrace=False)
        return url, None
    if IN_CI:
        pytest.fail("REDIS_URL must be set in CI", pytrace=False)
    from service.embedded_redis import start_redis
    socket_path = str(tmp_path_factory.mktemp("redis") / "redis.sock")
    return f"unix://{socket_path}", start_redis(socket_path)
