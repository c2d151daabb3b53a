"""Outcomes written through libpq: committed at once, read back as written, errors raised, statements cleaned up."""
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import select

from service import mailer
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from service.outcomes import PreparedOutcomes
from tests.services import require


@pytest.fixture
def outbox_row(app, ctx, personas):
    require(db.engine.dialect.name == "postgresql", "PostgreSQL (TEST_DATABASE_URL)")
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    mailer.queue_email("welcome", member, "outcome-test", community=db.session.scalar(select(Community)))
    db.session.commit()
    return db.session.scalar(select(OutboundEmail.id))


@pytest.fixture
def driver():
    """An autocommit connection as delivery's, closed afterwards (so no statement outlives the test)."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection.connection.driver_connection
        connection.invalidate()


def _read(row_id):
    db.session.expire_all()
    return db.session.get(OutboundEmail, row_id)


def test_an_outcome_is_committed_when_write_returns_and_reads_back_as_written(outbox_row, driver):
    sent_at = datetime(2026, 11, 29, 3, 4, 5, 678901, tzinfo=timezone.utc)
    outcomes = PreparedOutcomes(driver, "outbound_email")
    outcomes.write(outbox_row, {"status": "sent", "message_id": "<1.ab@cop.example>", "sent_at": sent_at,
                                "last_error": None, "updated_at": sent_at})
    row = _read(outbox_row)  # (the test's own session: another connection)
    assert (row.status, row.message_id, row.sent_at, row.last_error) == ("sent", "<1.ab@cop.example>", sent_at, None)
    later = sent_at.astimezone(timezone(timedelta(hours=-6))) + timedelta(hours=1)
    outcomes.write(outbox_row, {"status": "pending", "last_error": "SMTP 451 Señor\x00 busy", "next_attempt_at": later,
                                "updated_at": later})
    row = _read(outbox_row)
    assert (row.status, row.last_error, row.next_attempt_at) == ("pending", "SMTP 451 Señor busy", later)


def test_a_refused_write_raises_the_databases_error_and_the_connection_goes_on(outbox_row, driver):
    outcomes = PreparedOutcomes(driver, "outbound_email")
    with pytest.raises(psycopg.errors.StringDataRightTruncation):
        outcomes.write(outbox_row, {"status": "x" * 40})
    with pytest.raises(ValueError, match="aware"):
        outcomes.write(outbox_row, {"sent_at": datetime(2026, 11, 29)})
    assert _read(outbox_row).status == "pending"
    outcomes.write(outbox_row, {"status": "failed"})
    assert _read(outbox_row).status == "failed"


def test_close_deallocates_and_a_statement_left_behind_is_replaced(outbox_row, driver):
    def prepared() -> int:
        return driver.execute("SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'cop_outcome%'"
                              ).fetchone()[0]

    first = PreparedOutcomes(driver, "outbound_email")
    first.write(outbox_row, {"status": "sending"})
    first.close()
    assert prepared() == 0
    left = PreparedOutcomes(driver, "outbound_email")
    left.write(outbox_row, {"last_error": "left behind"})  # never closed, as if its batch had died
    again = PreparedOutcomes(driver, "outbound_email")
    again.write(outbox_row, {"status": "sent"})  # the same statement name, other columns
    assert (_read(outbox_row).status, _read(outbox_row).last_error) == ("sent", "left behind")
    again.close()
    assert prepared() == 0
