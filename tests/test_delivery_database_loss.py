"""A delivery job whose database connections are cut mid-batch hands its rows back for a retry shortly.

Before, the job failed and left every row it had claimed `sending` until the
sweeper's MAIL_SENDING_TIMEOUT (five minutes) took them back. The end-to-end
version, on the deployed processes, is in tests/test_faults_end_to_end.py.
"""
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from service.delivery import deliver_batch
from service.extensions import db
from tests.services import require
from tests.test_delivery_faults import _deliver_in_thread, _queued_ids, all_rows, fan_out, slow_smtp
from tests.worker_process import wait_until


def test_connections_terminated_mid_batch_hand_the_rows_back_for_a_retry(app, ctx, personas, smtp, monkeypatch):
    require(db.engine.dialect.name == "postgresql", "PostgreSQL (TEST_DATABASE_URL)")
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 1)
    release = slow_smtp(smtp, hold_at=5)
    addresses = fan_out(personas["riverside"], 20)
    ids = _queued_ids()
    thread, result = _deliver_in_thread(app, ids)
    try:
        wait_until(lambda: len(smtp.messages) >= 5, 30, "the batch to be sending its fifth message")
        # Every other connection to this test's database: the batch's session and its outcome writer.
        cut = db.session.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        db.session.commit()
        assert cut >= 1  # the outcome writer's at least (the session gives its connection back at each commit)
    finally:
        release.set()
        thread.join(30)

    # The fifth message was taken by the server, but its outcome could not be written.
    rows = all_rows()
    assert Counter(row.status for row in rows) == {"sent": 4, "pending": 16}, "nothing is left `sending`"
    [(when, waiting)] = result["retry"].items()
    assert sorted(waiting) == [row.id for row in rows if row.status == "pending"]
    assert when <= datetime.now(timezone.utc) + timedelta(seconds=3), "shortly: MAIL_RETRY_BASE_SECONDS"
    assert {_aware(row.next_attempt_at) for row in rows if row.status == "pending"} == {when}

    wait_until(lambda: datetime.now(timezone.utc) >= when, 10, "the retry to be due", interval=0.05)
    db.session.commit()  # end this test's read: the job runs in a transaction of its own
    retried = deliver_batch(waiting)  # what the job scheduled at `when` does
    assert retried["sent"] == 16, str(retried)
    rows = all_rows()
    assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {1}
    got = Counter(rcpt for message in smtp.messages for rcpt in message.rcpt_tos)
    assert set(got) == set(addresses)
    assert sum(n - 1 for n in got.values()) == 1 and got[addresses[4]] == 2, "only the message in flight twice"



def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
