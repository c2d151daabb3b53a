"""Fixtures: one app per test session on the real databases, a clean slate per test, personas."""
import functools
import re

import pytest
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import MetaData, text

from service import create_app
from service.config import load_settings
from service.extensions import db, limiter
from tests import services

pytest_plugins = ("tests.browser",)  # the browser, base_url and phone fixtures


def pytest_collection_modifyitems(items):
    """Each journey (marked journey) waits minutes on the product's own clock (a meeting must start, then end),
    so each should start at once, on a worker of its own, while the other workers run the rest beside it.

    `make test` runs pytest-xdist with --maxschedchunk 1, which hands each worker two tests to begin with, in
    collection order: a journey and a short test for each of the first workers.
    """
    journeys = [item for item in items if item.get_closest_marker("journey")]
    rest = [item for item in items if not item.get_closest_marker("journey")]
    ordered = []
    for journey in journeys:
        ordered += [journey, *rest[:1]]
        rest = rest[1:]
    items[:] = ordered + rest


@pytest.fixture(scope="session", autouse=True)
def quick_password_hashes():
    """Accounts made here hash their passwords with scrypt at N=2**10 instead of werkzeug's 2**15.

    The same code runs (login reads the cost from the stored hash), at a 32nd of the CPU: a persona's three
    accounts and each login took a quarter of a second apiece. No test is about the cost.
    """
    from service import coordinators
    quick = functools.partial(coordinators.generate_password_hash, method="scrypt:1024:8:1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(coordinators, "generate_password_hash", quick)
        yield


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    return services.test_database_url(tmp_path_factory)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url, process = services.redis_url_or_start(tmp_path_factory)
    yield url
    if process is not None:
        process.terminate()
        process.wait()


def app_settings(database_url: str, redis_url: str, instance) -> dict:
    """The tests' app settings on these databases (test_migrations' scratch apps use them too)."""
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "EMBEDDED_REDIS": False,
        "INSTANCE_DIR": str(instance),
        "MAIL_SINK_DIR": str(instance / "mailsink"),
        "MAIL_SUPPRESS_SEND": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    }


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    settings = app_settings(database_url, redis_url, tmp_path_factory.mktemp("instance"))
    if database_url.startswith("postgresql"):
        # The tests' commits do not wait for PostgreSQL to write its log to disk (8 ms a commit on a busy
        # machine, 1 ms without). Other sessions see them just the same; only a crash of the server could lose
        # the last ones, and the tests that stop PostgreSQL stop a server of their own.
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {**load_settings()["SQLALCHEMY_ENGINE_OPTIONS"],
                                                 "connect_args": {"options": "-c synchronous_commit=off"}}
    app = create_app(settings)
    with app.app_context():
        _reset_schema()
        upgrade()
    return app


def _reset_schema():
    """Drop whatever an earlier run left, so migrations build the schema from nothing."""
    metadata = MetaData()
    metadata.reflect(db.engine)
    metadata.drop_all(db.engine)


@pytest.fixture(autouse=True)
def clean_state(request):
    """Empty every table and the Redis db before each test that uses the app."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        with db.engine.begin() as connection:
            # DELETE, children first, rather than one TRUNCATE: a test leaves a few rows, which DELETE removes in
            # milliseconds, where PostgreSQL's TRUNCATE makes new files for every table and index (0.5 s a test).
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
            if connection.dialect.name == "postgresql":  # ids start at 1 again, as TRUNCATE ... RESTART IDENTITY
                connection.execute(text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences"
                    " WHERE schemaname = current_schema() AND last_value IS NOT NULL"))
        Redis.from_url(app.config["REDIS_URL"]).flushdb()
        limiter.reset()
    yield


@pytest.fixture
def ctx(app):
    """An app context for calling domain functions directly."""
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


def post_form(client, page_url: str, data: dict, post_url: str | None = None, **kwargs):
    """Submit a form as a browser would: load the page, take its CSRF token, post."""
    page = client.get(page_url)
    token = csrf_from(page.get_data(as_text=True))
    return client.post(post_url or page_url, data={"csrf_token": token, **data}, **kwargs)


def login(client, email: str, password: str):
    return post_form(client, "/login", {"email": email, "password": password})


PASSWORD = "correct horse battery"


@pytest.fixture
def personas(app):
    """alice coordinates Riverside, bob coordinates Lakeside, carol is an admin."""
    from service import communities, members
    from service.coordinators import create_coordinator
    with app.app_context():
        alice = create_coordinator("alice@example.org", "Alice", PASSWORD)
        bob = create_coordinator("bob@example.org", "Bob", PASSWORD)
        carol = create_coordinator("carol@example.org", "Carol", PASSWORD, is_admin=True)
        db.session.flush()
        riverside = communities.create_community(alice, name="Riverside COP", time_zone="America/Chicago")
        lakeside = communities.create_community(bob, name="Lakeside COP", time_zone="America/New_York")
        members.add_member(alice, riverside, name="Ana Torres", email="ana@example.org",
                           organization="Casa Verde", language="es")
        members.add_member(bob, lakeside, name="Ben Lake", email="ben@example.org", organization="Lake Org")
        db.session.commit()
        ids = {"alice": alice.id, "bob": bob.id, "carol": carol.id,
               "riverside": riverside.id, "lakeside": lakeside.id}
        db.session.remove()
    return ids


@pytest.fixture
def alice_client(client, personas):
    response = login(client, "alice@example.org", PASSWORD)
    assert response.status_code == 302
    return client


@pytest.fixture
def smtp(app):
    """A real SMTP server for this test, with the app pointed at it."""
    from tests.smtp_server import SMTPServer
    with SMTPServer() as server:
        state = app.extensions["mail"]
        old_port, old_server = state.port, state.server
        state.port, state.server = server.port, "127.0.0.1"
        app.config.update(MAIL_PORT=server.port, MAIL_SERVER="127.0.0.1")
        try:
            yield server.handler
        finally:
            state.port, state.server = old_port, old_server


def open_riverside():
    """Riverside (see personas) with posts not moderated and Rosa and Tom (English) beside Ana: the community the
    conversation tests post to."""
    from sqlalchemy import select
    from service import members
    from service.models import Community
    community = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    community.moderation = "none"
    for name, email in (("Rosa Diaz", "rosa@example.org"), ("Tom Reed", "tom@example.org")):
        members.add_member(None, community, name=name, email=email, organization="Northside", language="en",
                           welcome=False)
    db.session.commit()
    return community


def run_worker(app, burst=True):
    """Run every queued job now, in this process, with a real RQ worker on the real Redis."""
    from rq import SimpleWorker
    from service.queue import get_queue, redis_connection
    with app.app_context():
        SimpleWorker([get_queue()], connection=redis_connection()).work(burst=burst, with_scheduler=False)


def pytest_terminal_summary(terminalreporter):
    """The figures tests record (record_property("figures", ...)), shown in a normal run, xdist included."""
    lines = [value for reports in terminalreporter.stats.values() for report in reports
             if getattr(report, "when", None) == "call"
             for name, value in getattr(report, "user_properties", ()) if name == "figures"]
    if lines:
        terminalreporter.section("figures")
        for line in lines:
            terminalreporter.write_line(line)
