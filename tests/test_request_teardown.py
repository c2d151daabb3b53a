"""A database connection dropped after a page was made (PostgreSQL restarting in between) does not fail the
request: before, the session's ROLLBACK at teardown raised past every error handler (gunicorn's bare 500), even
after a member's answer had been saved. Seen by tests/test_faults_end_to_end.py."""
from sqlalchemy import create_engine, text

from service.extensions import db
from tests.services import require


def test_a_connection_dropped_before_the_request_ends_is_let_go(app, client, database_url, caplog):
    require(database_url.startswith("postgresql"), "PostgreSQL (TEST_DATABASE_URL)")
    other = create_engine(database_url)
    try:
        with app.test_request_context("/"):
            pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar()  # a transaction is open
            with other.connect() as connection:
                assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
        # Leaving the request ran its teardowns without raising.
    finally:
        other.dispose()
    assert "the database connection was lost at the end of a request" in caplog.text
    assert client.get("/login").status_code == 200  # the next request takes a sound connection
