"""The sweeper: rebuilds the delivery queue from the database, taking back rows whose job died."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import String, case, cast, select, update

from service import clock
from service.extensions import db
from service.mailer import delivery_batches, is_pending_due
from service.models import OutboundEmail
from service.queue import get_queue


def sweep(stuck_after: timedelta | None = None, grace: timedelta | None = None) -> dict:
    """Rebuild the queue from the database.

    Rows left `sending` by a job that died go back to pending (the one message
    it may have handed to SMTP without recording is the documented window), or
    to failed once they have had MAIL_MAX_ATTEMPTS claims: a row that kills
    every job that tries it must end. They are enqueued one job each, so the
    row that killed the job cannot take the rows claimed with it down again.
    Pending rows that are due and older than the grace period are enqueued
    again: if Redis still had them, the claim makes the copy a no-op.
    """
    config = current_app.config
    now = clock.now()
    stuck_after = stuck_after if stuck_after is not None else timedelta(seconds=config["MAIL_SENDING_TIMEOUT"])
    grace = grace if grace is not None else timedelta(seconds=config["MAIL_SWEEP_GRACE"])
    spent = OutboundEmail.attempts >= config["MAIL_MAX_ATTEMPTS"]
    released = db.session.execute(
        update(OutboundEmail).where(OutboundEmail.status == "sending", OutboundEmail.updated_at <= now - stuck_after)
        .values(status=case((spent, "failed"), else_="pending"), next_attempt_at=None, updated_at=now,
                last_error=case((spent, "gave up after " + cast(OutboundEmail.attempts, String)
                                 + " attempts: the worker stopped while sending"),
                                else_="the worker stopped while sending; sent again"))
        .returning(OutboundEmail.id, OutboundEmail.status).execution_options(synchronize_session=False)).all()
    db.session.commit()
    again = sorted(row_id for row_id, status in released if status == "pending")
    lost = db.session.scalars(select(OutboundEmail.id).where(
        is_pending_due(now), OutboundEmail.updated_at <= now - grace,
        (OutboundEmail.next_attempt_at.is_(None)) | (OutboundEmail.next_attempt_at <= now - grace))
        .order_by(OutboundEmail.id)).all()
    lost = sorted(set(lost) - set(again))
    queue = get_queue()
    batches = [[row_id] for row_id in again] + delivery_batches(lost)
    queue.enqueue_many([queue.prepare_data("jobs.delivery.deliver", args=(batch,)) for batch in batches])
    return {"released": len(again), "failed": len(released) - len(again), "requeued": len(again) + len(lost)}
