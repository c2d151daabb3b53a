"""Fixtures: one app per test session on the real databases, a clean slate per test, personas."""
import re

import pytest
from flask_migrate import upgrade
from redis import Redis
from sqlalchemy import MetaData

from service import create_app
from service.extensions import db, limiter
from tests import services

pytest_plugins = ("tests.browser",)  # the browser, base_url and phone fixtures


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


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_url,
        "EMBEDDED_REDIS": False,
        "INSTANCE_DIR": str(instance),
        "MAIL_SINK_DIR": str(instance / "mailsink"),
        "MAIL_SUPPRESS_SEND": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SERVER_NAME": None,
    })
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
        tables = [t for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("TRUNCATE " + ", ".join(t.name for t in tables) + " RESTART IDENTITY CASCADE")
            else:
                for table in tables:
                    connection.execute(table.delete())
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


def run_worker(app, burst=True):
    """Run every queued job now, in this process, with a real RQ worker on the real Redis."""
    from rq import SimpleWorker
    from service.queue import get_queue, redis_connection
    with app.app_context():
        SimpleWorker([get_queue()], connection=redis_connection()).work(burst=burst, with_scheduler=False)
