"""The one door for received mail: store the raw message, then enqueue its processing.

Storing comes first and commits on its own, so a message is never lost to a
failure later on: a parser error, a worker killed, Redis down (the sweeper
enqueues what is still `received`). The Message-ID is unique: the same
message delivered twice (an MTA retry, an IMAP poll that saw it before, a
webhook called again) is stored and processed once.
"""
import hashlib
from datetime import timedelta
from email.parser import BytesHeaderParser

from flask import current_app
from redis.exceptions import RedisError
from rq.job import Job
from sqlalchemy import select
from sqlalchemy.orm import make_transient_to_detached

from service import clock, normalize
from service.addresses import read_address
from service.conversations.addresses import slug_of
from service.extensions import db
from service.inbound.message import BOUNDED, MAX_HEADER_BLOCK, address_of, addresses, message_ids
from service.models import InboundMessage
from service.queue import enqueue_after_commit, get_queue, redis_connection
from service.sql import dialect_insert

PROCESS_JOB = "jobs.inbound.process"
INBOUND_MAX_ATTEMPTS = 3  # a message whose processing kills its job this often is failed, kept for a person
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")


class TooLarge(ValueError):
    """The message is over INBOUND_MAX_BYTES; nothing was stored."""


def receive(raw: bytes, envelope_to: str, via: str, envelope_from: str = "") -> tuple[InboundMessage, bool]:
    """Store `raw` and enqueue its processing; (the row, False) when this message was received before.

    `envelope_to` is the address the message was delivered to (the MTA's
    recipient); when it is empty or not one of ours (an IMAP mailbox, a
    webhook that does not say), the recipient headers are searched for one.
    """
    limit = current_app.config["INBOUND_MAX_BYTES"]
    if len(raw) > limit:
        raise TooLarge(f"message of {len(raw)} bytes is over the limit of {limit} bytes")
    headers = _headers(raw)
    message_id = (message_ids(_value(headers, "Message-ID")) or [None])[0] \
        or f"<{hashlib.sha256(raw).hexdigest()}@no-message-id>"
    recipient = our_recipient(envelope_to, headers)
    purpose = purpose_of(recipient)
    inserted = db.session.execute(  # on the table: the ORM's bulk-insert path cost more than the INSERT
        dialect_insert(InboundMessage.__table__).on_conflict_do_nothing(index_elements=["message_id"])
        .returning(InboundMessage.id),
        [{"via": via, "envelope_to": normalize.text(recipient or envelope_to)[:254],
          "envelope_from": normalize.text(envelope_from)[:254], "message_id": message_id[:255], "raw": raw,
          "size": len(raw), "from_address": normalize.text(address_of(_value(headers, "From"))[1]).lower()[:254],
          "subject": normalize.text(_value(headers, "Subject"))[:255], "purpose": purpose,
          "status": "received", "reason": "", "text": "", "detail": {}, "attempts": 0}]).scalar()
    if inserted is None:
        db.session.rollback()
        return db.session.scalar(select(InboundMessage).where(InboundMessage.message_id == message_id[:255])), False
    enqueue_after_commit(PROCESS_JOB, inserted, job_id=process_job_id(inserted))
    db.session.commit()  # with Redis down the job waits: the sweeper enqueues what is still `received`
    return _stored(inserted), True


def process_job_id(inbound_id: int) -> str:
    """The id of the job `receive` enqueues to process a message, so another job can take it off the queue."""
    return f"inbound-{inbound_id}"


def drop_jobs(inbound_ids: list[int]) -> None:
    """Take off the queue the jobs `receive` enqueued for these messages, processed by another job meanwhile:
    each would cost a work-horse only to find its message processed. A job a worker already took is left to
    run (and return at once); with Redis unreachable they all are."""
    queue, connection = get_queue(), redis_connection()
    job_ids = [process_job_id(inbound_id) for inbound_id in inbound_ids]
    try:
        with connection.pipeline(transaction=False) as pipeline:
            for job_id in job_ids:
                queue.remove(job_id, pipeline=pipeline)
            removed = pipeline.execute()
        taken_off = [Job.key_for(job_id) for job_id, count in zip(job_ids, removed) if count]
        if taken_off:
            connection.delete(*taken_off)
    except RedisError as error:
        current_app.logger.warning("could not take processed messages' jobs off the queue: %s", error)


def _stored(row_id: int) -> InboundMessage:
    """The stored row, its columns read only when the caller asks for them (the MTA pipe and a burst of
    deliveries need only that it is stored: a SELECT here was a fifth of the time `receive` takes)."""
    row = InboundMessage(id=row_id)
    make_transient_to_detached(row)
    db.session.add(row)
    return row


def our_recipient(envelope_to: str, headers) -> str:
    """The first of the envelope recipient and the recipient headers that is an address of ours: a signed
    one, or a community's own (the headers are parsed only when the envelope recipient is not ours: an MTA's
    pipe always names it)."""
    if envelope_to and _ours(envelope_to):
        return envelope_to
    candidates = (address for name in RECIPIENT_HEADERS for _name, address in addresses(_value(headers, name)))
    return next((address for address in candidates if address and _ours(address)), "")


def _ours(address: str) -> bool:
    return bool(read_address(address) or slug_of(address))


def purpose_of(recipient: str) -> str:
    """What an address of ours is for: the purpose a signed one names, "post" for a community's address."""
    signed = read_address(recipient) if recipient else None
    if signed:
        return signed[0]
    return "post" if recipient and slug_of(recipient) else "unknown"


def _headers(raw: bytes):
    """The header block only (the body is not parsed here), decoded as the default policy does."""
    return BytesHeaderParser(policy=BOUNDED).parsebytes(raw[:MAX_HEADER_BLOCK])


def _value(headers, name: str) -> str:
    try:
        return " ".join(str(value) for value in headers.get_all(name, []))[:4000]
    except Exception:  # an undecodable header: the processing job records it as a problem
        return ""


def sweep() -> dict:
    """Enqueue again what is still `received` after the grace period (Redis lost its job, or a worker died
    while processing it); a message whose processing stopped INBOUND_MAX_ATTEMPTS times is failed instead."""
    config = current_app.config
    cutoff = clock.now() - timedelta(seconds=config["MAIL_SWEEP_GRACE"])
    waiting = db.session.scalars(select(InboundMessage).where(
        InboundMessage.status == "received", InboundMessage.received_at <= cutoff)
        .order_by(InboundMessage.id).limit(1000)).all()
    requeued, failed = [], 0
    for row in waiting:
        if row.attempts >= INBOUND_MAX_ATTEMPTS:
            row.status, row.processed_at = "failed", clock.now()
            row.reason = f"processing stopped {row.attempts} times; the message is kept"
            failed += 1
        else:
            requeued.append(row.id)
    db.session.commit()
    if requeued:
        queue = get_queue()
        queue.enqueue_many([queue.prepare_data(PROCESS_JOB, args=(row_id,)) for row_id in requeued])
    return {"requeued": len(requeued), "failed": failed}
