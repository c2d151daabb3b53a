"""Outcomes written on the batch's own connection: committed at once, read back as written, errors raised."""
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, StatementError

from service import mailer
from service.extensions import db
from service.models import Community, Member, OutboundEmail
from service.outcomes import outcome_writer


@pytest.fixture
def outbox_row(app, ctx, personas):
    member = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    mailer.queue_email("welcome", member, "outcome-test", community=db.session.scalar(select(Community)))
    db.session.commit()
    row = db.session.scalar(select(OutboundEmail))
    row.status, row.attempts = "sending", 1  # as a delivery batch's claim leaves it
    db.session.commit()
    return row.id


def _read(row_id):
    db.session.rollback()
    db.session.expire_all()
    return db.session.get(OutboundEmail, row_id)


def test_an_outcome_is_committed_when_write_returns_and_reads_back_as_written(outbox_row):
    sent_at = datetime(2026, 11, 29, 3, 4, 5, 678901, tzinfo=timezone.utc)
    with outcome_writer() as outcomes:
        assert outcomes.write(outbox_row, 1, {"status": "sent", "message_id": "<1.ab@cop.example>", "sent_at": sent_at,
                                    "last_error": None, "updated_at": sent_at})
        row = _read(outbox_row)  # (the test's own session: another connection)
        assert (row.status, row.message_id, _aware(row.sent_at), row.last_error) == \
            ("sent", "<1.ab@cop.example>", sent_at, None)
        later = sent_at + timedelta(hours=1)
        _claim_again(outbox_row, 1)
        outcomes.write(outbox_row, 1, {"status": "pending", "last_error": "SMTP 451 Señor\x00 busy",
                                    "next_attempt_at": later, "updated_at": later})
        row = _read(outbox_row)
        assert (row.status, row.last_error, _aware(row.next_attempt_at)) == ("pending", "SMTP 451 Señor busy", later)


def test_a_refused_write_raises_the_databases_error_and_the_connection_goes_on(outbox_row):
    with outcome_writer() as outcomes:
        with pytest.raises((DBAPIError, StatementError, psycopg.Error)):
            outcomes.write(outbox_row, 1, {"sent_at": "not a time"})
        assert _read(outbox_row).status == "sending"
        assert outcomes.write(outbox_row, 1, {"status": "failed"})
    assert _read(outbox_row).status == "failed"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def test_an_outcome_is_written_only_while_the_batch_still_holds_the_row(outbox_row):
    with outcome_writer() as outcomes:
        _claim_again(outbox_row, 2)  # the sweeper released it, another job claimed it (attempt 2)
        assert outcomes.write(outbox_row, 1, {"status": "sent", "message_id": "<late@cop.example>"}) is False
        row = _read(outbox_row)
        assert (row.status, row.attempts, row.message_id) == ("sending", 2, None)
        _claim_again(outbox_row, 2, status="pending")  # released again, not yet claimed
        assert outcomes.write(outbox_row, 2, {"status": "sent"}) is False
        assert _read(outbox_row).status == "pending"


def _claim_again(row_id: int, attempt: int, status: str = "sending") -> None:
    row = _read(row_id)
    row.status, row.attempts = status, attempt
    db.session.commit()
