"""Finding the real PostgreSQL and Redis for tests, or starting embedded stand-ins.

In CI (CI=true) a missing service fails the run instead of quietly falling
back: CI must prove the code against the real servers.
"""
import os

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from service.config import _database_url

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, what: str) -> None:
    """Fail in CI, skip elsewhere, when something a test needs is missing."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{what} is required in CI but is not available", pytrace=False)
        pytest.skip(f"{what} is not available")


def test_database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        if IN_CI:
            pytest.fail("TEST_DATABASE_URL must point at PostgreSQL in CI", pytrace=False)
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    url = _database_url(url)
    try:
        with create_engine(url).connect() as connection:
            connection.execute(text("select 1"))
    except Exception as exc:
        pytest.fail(f"TEST_DATABASE_URL={url} is not reachable: {exc}", pytrace=False)
    return url


def postgres_admin_url(url: str) -> str | None:
    """The same server's maintenance URL, for creating scratch databases."""
    if not url.startswith("postgresql"):
        return None
    return url.rsplit("/", 1)[0] + "/postgres"


def redis_url_or_start(tmp_path_factory):
    """(url, process or None): REDIS_URL if set and answering, else an embedded redis-server."""
    url = os.environ.get("REDIS_URL")
    if url:
        try:
            Redis.from_url(url).ping()
        except Exception as exc:
            pytest.fail(f"REDIS_URL={url} is not reachable: {exc}", pytrace=False)
        return url, None
    if IN_CI:
        pytest.fail("REDIS_URL must be set in CI", pytrace=False)
    from service.embedded_redis import start_redis
    socket_path = str(tmp_path_factory.mktemp("redis") / "redis.sock")
    return f"unix://{socket_path}", start_redis(socket_path)
