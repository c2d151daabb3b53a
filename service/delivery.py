"""Delivering outbox rows: claim a batch, render, send over one SMTP connection, record each outcome.

A row is claimed with a conditional UPDATE (pending -> sending), so two
workers, a retried job and the sweeper can all hold the same ids and each row
is still sent once. Messages go one after another, and each outcome is
committed before the next message is sent, so a crash leaves at most one
message accepted by the server and not recorded: the sweeper sends that one
again. A lost 250 can send twice too: when the server's answer to the final
dot never arrives (a timeout, a dropped connection), the message may have been
accepted, and SMTP gives no way to know; the row is tried again.
"""
import json
import smtplib
import time
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone

from flask import current_app
from flask_mail import sanitize_address
from sqlalchemy import String, Text, case, cast, select, tuple_, update
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from service import bounces
from service.batch_render import BatchRenderer
from service.email_render import HeaderInjectionError, new_message_id, to_bytes
from service.extensions import db
from service.mailer import delivery_batches, is_pending_due, row_suppression, suppressed_addresses
from service.models import Community, Member, OutboundEmail
from service.outcomes import outcome_writer
from service.smtp_send import SmtpConnection, send_message
from service.sql import one_of

MAX_BACKOFF = timedelta(hours=6)
CLAIM_SIZE = 100  # rows claimed (and so left `sending` by a crash) at a time
_outcomes: ContextVar = ContextVar("delivery_outcomes")  # the batch's outcome_writer


def _now() -> datetime:
    return datetime.now(timezone.utc)


def claim(ids: list[int]) -> dict[int, int]:
    """Mark the due pending rows among `ids` as sending; {id: attempt} of the rows we now hold.

    Every claim counts as an attempt, and the attempt number is the claim's
    token: a row the sweeper released and another job claimed again has a
    higher one, so what this batch writes later cannot overwrite it.
    """
    now = _now()
    owned = (select(OutboundEmail.id).where(one_of(OutboundEmail.id, ids), is_pending_due(now))
             .with_for_update(skip_locked=True))
    result = db.session.execute(
        update(OutboundEmail).where(OutboundEmail.id.in_(owned.scalar_subquery()))
        .values(status="sending", attempts=OutboundEmail.attempts + 1, updated_at=now)
        .returning(OutboundEmail.id, OutboundEmail.attempts).execution_options(synchronize_session=False))
    claimed = dict(sorted(tuple(row) for row in result))
    db.session.commit()
    return claimed


def renew(held: dict[int, int]) -> set[int]:
    """Renew the claim on the `held` rows (id -> attempt) still ours; their ids.

    A batch slower than MAIL_SENDING_TIMEOUT would otherwise see the sweeper
    take its rows and another job send them too.
    """
    result = db.session.execute(
        update(OutboundEmail).where(tuple_(OutboundEmail.id, OutboundEmail.attempts).in_(list(held.items())),
                                    OutboundEmail.status == "sending")
        .values(updated_at=_now()).returning(OutboundEmail.id).execution_options(synchronize_session=False))
    ours = set(result.scalars())
    db.session.commit()
    return ours


def _finish(row: OutboundEmail, **values) -> bool:
    """Record one row's outcome and commit it at once; False if the row is no longer ours (nothing written)."""
    values["updated_at"] = _now()
    written = _outcomes.get().write(row.id, row.attempts, values)
    if db.session().in_transaction():  # end the batch's reads (and anything a template's extras read)
        db.session.commit()
    if not written:
        current_app.logger.warning("outbox row %s was claimed again by another job; %s not recorded",
                                   row.id, values.get("status"))
    return written


def _retry_or_fail(row: OutboundEmail, error: str) -> datetime | None:
    """Schedule another attempt with backoff, or give up; the retry time, if any."""
    config = current_app.config
    if row.attempts >= config["MAIL_MAX_ATTEMPTS"]:
        _finish(row, status="failed", last_error=f"gave up after {row.attempts} attempts: {error}"[:1000])
        return None
    delay = min(timedelta(seconds=config["MAIL_RETRY_BASE_SECONDS"] * 2 ** (row.attempts - 1)), MAX_BACKOFF)
    when = (_now() + delay).replace(microsecond=0) + timedelta(seconds=1)
    _finish(row, status="pending", last_error=error[:1000], next_attempt_at=when)
    return when


def deliver_batch(ids: list[int]) -> dict:
    """Send the rows among `ids` that are ours to send; returns counts and the retries to schedule.

    A job carries up to MAIL_BATCH_SIZE ids (forking a work-horse per job costs
    tens of milliseconds here) and sends them over one SMTP connection, but
    claims them CLAIM_SIZE at a time: a worker that dies leaves at most that
    many rows `sending` for the sweeper, and the rest of its batch still pending.
    """
    outcome = {"sent": 0, "failed": 0, "suppressed": 0, "taken": 0, "retry": {}}
    # Each outcome is committed on its own; expiring the batch at every commit would
    # reload each row, member and community (three SELECTs per message) for nothing.
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        renderer = BatchRenderer()
        with outcome_writer() as outcomes, SmtpConnection() as smtp:
            token = _outcomes.set(outcomes)
            try:
                for start in range(0, len(ids), CLAIM_SIZE):
                    _deliver_chunk(ids[start:start + CLAIM_SIZE], smtp, renderer, outcome)
            finally:
                _outcomes.reset(token)
    finally:
        session.expire_on_commit = expire_on_commit
    return outcome


def _deliver_chunk(ids: list[int], smtp: SmtpConnection, renderer: BatchRenderer, outcome: dict) -> None:
    held = claim(ids)
    if not held:
        return
    rows = _load(held)
    suppressed = suppressed_addresses(row.recipient for row, _m, _c in rows)
    renew_every = current_app.config["MAIL_SENDING_TIMEOUT"] / 4
    renew_at = time.monotonic() + renew_every
    index, progressed = 0, False
    while index < len(rows):
        if time.monotonic() >= renew_at:
            ours = renew({row.id: row.attempts for row, _m, _c in rows[index:]})
            _note_lost(outcome, [row.id for row, _m, _c in rows[index:] if row.id not in ours])
            rows[index:] = [entry for entry in rows[index:] if entry[0].id in ours]
            renew_at = time.monotonic() + renew_every
            continue
        try:
            if _deliver_row(smtp, renderer, *rows[index], suppressed, outcome):
                progressed = True
            index += 1
        except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError) as error:
            smtp.drop()
            db.session.rollback()
            if progressed:
                # Closed after some progress (smtplib hangs up on any 421 reply): go on over a
                # new connection, or one deferred address would fail the rest of its batch.
                progressed = False
                continue
            for row, _member, _community in rows[index:]:  # not sent: try them all again later
                when = _retry_or_fail(row, f"connection: {error}")
                _note_retry(outcome, row, when)
            break


def _load(held: dict[int, int]) -> list:
    """(row, member, community) for each `held` row still ours, in id order; member or community None when gone.

    The rows of a fan-out carry the same context (an announcement's whole
    text): it is read as text and parsed once per distinct text, the rows
    sharing the one dict, instead of the JSON being parsed again for each row.
    """
    parsed: dict[str, dict] = {}
    loaded = []
    for row, member, community, context in db.session.execute(
            select(OutboundEmail, Member, Community, cast(OutboundEmail.context, Text))
            .options(defer(OutboundEmail.context))
            .join(Member, Member.id == OutboundEmail.member_id, isouter=True)
            .join(Community, Community.id == OutboundEmail.community_id, isouter=True)
            .where(one_of(OutboundEmail.id, list(held)), OutboundEmail.status == "sending")
            .order_by(OutboundEmail.id)):
        if row.attempts != held[row.id]:  # claimed again by another job since
            continue
        if context not in parsed:
            parsed[context] = json.loads(context)
        set_committed_value(row, "context", parsed[context])
        loaded.append((row, member, community))
    return loaded


def _note_lost(outcome: dict, ids: list[int]) -> None:
    if ids:
        current_app.logger.warning("outbox rows %s were claimed again by another job; not sent here", ids)
        outcome["taken"] += len(ids)


def _note_retry(outcome: dict, row: OutboundEmail, when: datetime | None) -> None:
    if when is None:
        outcome["failed"] += 1
    else:
        outcome["retry"].setdefault(when, []).append(row.id)


def _deliver_row(smtp: SmtpConnection, renderer: BatchRenderer, row, member, community,
                 suppressed: dict[str, str], outcome: dict) -> bool:
    """Render and send one row and commit its outcome; True if it went to the server.

    Raises a connection error with nothing recorded: the row is still ours to send.
    """
    message = _prepare(renderer, row, member, community, suppressed, outcome)
    if message is None:  # recorded without sending: suppressed, or failed
        return False
    message_id, envelope_from, raw = message
    host = smtp.get()
    try:
        if host is not None:  # MAIL_SUPPRESS_SEND: nothing goes out
            to = row.recipient if row.recipient.isascii() else sanitize_address(row.recipient)  # IDNA domain
            send_message(host, envelope_from, to, raw)
    except smtplib.SMTPRecipientsRefused as error:
        code, response = next(iter(error.recipients.values()))
        _smtp_refusal(row, member, code, response, outcome)
    except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
        _smtp_refusal(row, member, error.smtp_code, error.smtp_error, outcome)
    except OSError:
        raise  # the connection failed: the caller decides
    except Exception as error:  # e.g. an address smtplib cannot encode: must not end the job for the rest
        current_app.logger.exception("sending outbox row %s failed", row.id)
        smtp.drop()  # where the conversation stopped is unknown
        db.session.rollback()
        _note_retry(outcome, row, _retry_or_fail(row, f"sending failed: {type(error).__name__}: {error}"))
    else:
        _finish(row, status="sent", message_id=message_id, sent_at=_now(), last_error=None)
        outcome["sent"] += 1
    return True


def _prepare(renderer, row, member, community, suppressed, outcome) -> tuple[str, str, bytes] | None:
    """(Message-ID, envelope sender, bytes) to send for this row, or None once it is recorded as not to be sent."""
    if member is None:
        _finish(row, status="failed", last_error="the member no longer exists")
        outcome["failed"] += 1
        return None
    reason = row_suppression(row, member, suppressed)
    if reason:
        _finish(row, status="suppressed", last_error=reason)
        outcome["suppressed"] += 1
        return None
    message_id = new_message_id()
    try:
        rendered = renderer.render(row, member, community)
        return message_id, rendered.envelope_from, to_bytes(rendered, message_id)
    except HeaderInjectionError as error:
        _finish(row, status="failed", last_error=f"refused: {error}")
    except Exception as error:  # a template bug must not stop the rest of the batch
        current_app.logger.exception("rendering outbox row %s failed", row.id)
        # It will not render next time either: failed at once, not retried.
        _finish(row, status="failed", last_error=f"rendering failed: {type(error).__name__}: {error}"[:1000])
    outcome["failed"] += 1
    return None


def _smtp_refusal(row, member, code: int, response, outcome) -> None:
    """5xx: permanent, fail now and count a hard bounce. 4xx: try again later."""
    detail = response.decode(errors="replace") if isinstance(response, bytes) else str(response)
    error = f"SMTP {code} {detail}"
    if 500 <= code < 600:
        _finish(row, status="failed", last_error=error[:1000])
        bounces.record_bounce(member, "hard", error, row.id)
        db.session.commit()
        outcome["failed"] += 1
    else:
        _note_retry(outcome, row, _retry_or_fail(row, error))


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
    now = _now()
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
    from jobs.queue import get_queue
    queue = get_queue()
    batches = [[row_id] for row_id in again] + delivery_batches(lost)
    queue.enqueue_many([queue.prepare_data("jobs.delivery.deliver", args=(batch,)) for batch in batches])
    return {"released": len(again), "failed": len(released) - len(again), "requeued": len(again) + len(lost)}
