"""Migrations build exactly the models' schema from nothing and take it away again, on SQLite and PostgreSQL.

Each test migrates a scratch database of its own (a temp file, or a
scratch PostgreSQL database on the TEST_DATABASE_URL server), never the
shared test schema the `app` fixture uses.
"""
import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from sqlalchemy import Column, MetaData, String, create_engine, inspect, text
from sqlalchemy.engine import make_url

from service import create_app
from service.extensions import db
from tests.conftest import app_settings
from tests.services import create_database_if_missing, require

BOOKKEEPING_TABLES = {"alembic_version"}


@pytest.fixture
def scratch_postgres(request):
    """An empty PostgreSQL database on the test server: `<test database>_migrations`, emptied for each test.

    Emptied by dropping its schema, and kept between runs: DROP DATABASE waits
    for a checkpoint, which takes minutes on a machine busy writing.
    """
    database_url = request.getfixturevalue("database_url")
    require(database_url.startswith("postgresql"), "PostgreSQL (TEST_DATABASE_URL)")
    url = make_url(database_url)
    url = create_database_if_missing(url.set(database=f"{url.database}_migrations"))
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_app(request, tmp_path, redis_url):
    """An app whose database is empty and all its own."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = request.getfixturevalue("scratch_postgres")
    app = create_app(app_settings(url, redis_url, tmp_path / "instance"))
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()  # no connection left to hold the scratch schema


def schema_diff(metadata: MetaData = None) -> list:
    """What autogenerate would write to make the database match the models: [] when they agree."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "compare_server_default": True})
        return compare_metadata(context, metadata if metadata is not None else db.metadata)


def summarize(diff: list) -> set[tuple]:
    """Each difference as (operation, table, column or object name), comparable and readable."""
    result = set()
    for op in diff:
        if isinstance(op, list):  # modify_* operations come as a list of (op, schema, table, column, ...)
            result.update((o[0], o[2], o[3]) for o in op)
        else:
            target = op[-1]
            table = getattr(target, "table", target)
            result.add((op[0], getattr(table, "name", None), getattr(target, "name", None)))
    return result


def assert_models_match_database() -> None:
    diff = schema_diff()
    assert not diff, ("models and migrations disagree (add a migration or correct the model):\n"
                      + "\n".join(map(str, sorted(summarize(diff), key=str))))


def app_tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - BOOKKEEPING_TABLES


def current_revision() -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def _script() -> ScriptDirectory:
    """The app's migration scripts (Flask-Migrate's Alembic config)."""
    return ScriptDirectory.from_config(current_app.extensions["migrate"].migrate.get_config())


def snapshot() -> dict:
    """Tables with their columns, indexes, unique constraints and foreign keys, for before/after comparisons."""
    inspector = inspect(db.engine)
    result = {}
    for table in sorted(app_tables()):
        result[table] = {
            "columns": sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
            "foreign_keys": sorted((f["name"], tuple(f["constrained_columns"]), f["referred_table"])
                                   for f in inspector.get_foreign_keys(table)),
        }
    result["(triggers)"] = trigger_names()  # a revision may add only triggers (0013_poststamp)
    return result


def trigger_names() -> list[str]:
    """Every trigger on the app's tables (the inspector does not see them)."""
    with db.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        return sorted(connection.execute(text(query)).scalars())


def test_upgrade_builds_exactly_the_models_schema(scratch_app):
    assert app_tables() == set()
    flask_migrate.upgrade()
    assert current_revision() == _script().get_current_head()
    assert app_tables() == set(db.metadata.tables)
    assert_models_match_database()


def test_downgrade_to_base_removes_every_table_then_upgrade_works_again(scratch_app):
    flask_migrate.upgrade()
    with db.engine.begin() as connection:  # data in the tables must not stop the downgrade
        connection.execute(text("INSERT INTO community (name, description, time_zone, stage, digest_cadence,"
                                " created_at) VALUES ('Riverside COP', '', 'America/Chicago', 'forming',"
                                " 'biweekly', CURRENT_TIMESTAMP)"))
    flask_migrate.downgrade(revision="base")
    assert app_tables() == set()
    assert current_revision() is None
    flask_migrate.upgrade()
    assert current_revision() == _script().get_current_head()
    assert_models_match_database()


def test_every_revision_downgrades_to_exactly_what_was_there_before(scratch_app):
    """The stairway: up one revision, down one, up again; each step leaves the schema it found."""
    revisions = list(reversed(list(_script().walk_revisions())))  # oldest first
    assert revisions, "no migrations found"
    for revision in revisions:
        before = snapshot()
        flask_migrate.upgrade(revision=revision.revision)
        after = snapshot()
        assert after != before, f"revision {revision.revision} changed nothing"
        flask_migrate.downgrade(revision=revision.down_revision or "base")
        assert snapshot() == before, f"downgrade of {revision.revision} did not undo its upgrade"
        flask_migrate.upgrade(revision=revision.revision)
        assert snapshot() == after, f"upgrade of {revision.revision} differs the second time"
    assert_models_match_database()


@pytest.mark.parametrize("scratch_app", ["sqlite"], indirect=True)
def test_the_agreement_check_notices_a_model_the_migrations_lack(scratch_app):
    """If a model grows a column no migration adds, the check above fails."""
    flask_migrate.upgrade()
    drifted = MetaData(naming_convention=db.metadata.naming_convention)
    for table in db.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["member"].append_column(Column("nickname", String(50), nullable=True))
    drift = summarize(schema_diff(drifted)) - summarize(schema_diff())
    assert drift == {("add_column", "member", "nickname")}


def test_0006_a_gives_each_membership_the_name_organization_and_language_its_member_had(scratch_app):
    """Existing data keeps what every community saw; downgrading puts the organization back on the member."""
    flask_migrate.upgrade(revision="597205462b50")
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO organization (id, name, name_key, created_at) VALUES (7, 'Casa Verde', 'casa verde', "
            "CURRENT_TIMESTAMP);"))
        connection.execute(text(
            "INSERT INTO community (id, name, description, time_zone, stage, digest_cadence, created_at) VALUES "
            "(1, 'Riverside', '', 'UTC', 'forming', 'weekly', CURRENT_TIMESTAMP), "
            "(2, 'Lakeside', '', 'UTC', 'forming', 'weekly', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO member (id, email, name, organization_id, language, digest_frequency, status, created_at) "
            "VALUES (3, 'rosa@example.org', 'Rosa Díaz', 7, 'es', 'weekly', 'active', CURRENT_TIMESTAMP)"))
        connection.execute(text(
            "INSERT INTO membership (community_id, member_id, role, status, created_at) VALUES "
            "(1, 3, 'member', 'active', CURRENT_TIMESTAMP), (2, 3, 'leader', 'active', CURRENT_TIMESTAMP)"))
    flask_migrate.upgrade(revision="0006_a")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT community_id, name, organization_id, language FROM membership "
                                       "ORDER BY community_id")).all() == [(1, "Rosa Díaz", 7, "es"),
                                                                          (2, "Rosa Díaz", 7, "es")]
    flask_migrate.downgrade(revision="0006_b")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT name, organization_id FROM member")).all() == [("Rosa Díaz", 7)]


def test_0006_a_rewrites_internationalised_domains_in_ascii(scratch_app):
    """Addresses stored before input was checked reach their people after the upgrade; others are left alone."""
    flask_migrate.upgrade(revision="0006_b")
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO member (id, email, name, language, digest_frequency, status, created_at) VALUES "
            "(1, 'rosa@bücher.example', 'Rosa', 'es', 'weekly', 'active', CURRENT_TIMESTAMP), "
            "(2, 'ana@example.org', 'Ana', 'en', 'weekly', 'active', CURRENT_TIMESTAMP), "
            "(3, 'luis@xn--mnchen-3ya.example', 'Luis', 'es', 'weekly', 'active', CURRENT_TIMESTAMP), "
            "(4, 'luis@münchen.example', 'Luis again', 'es', 'weekly', 'active', CURRENT_TIMESTAMP), "
            "(5, 'not an address é', 'Broken', 'en', 'weekly', 'active', CURRENT_TIMESTAMP)"))
    flask_migrate.upgrade(revision="0006_a")
    with db.engine.connect() as connection:
        assert connection.execute(text("SELECT id, email FROM member ORDER BY id")).all() == [
            (1, "rosa@xn--bcher-kva.example"), (2, "ana@example.org"), (3, "luis@xn--mnchen-3ya.example"),
            (4, "luis@münchen.example"), (5, "not an address é")]
