"""A processing job goes on with the messages waiting behind it (a burst of replies costs one work-horse per
batch, not per message, and one delivery job for the batch's confirmations), and never takes one whose
processing was started and stopped."""
from datetime import timedelta

from sqlalchemy import select

from service.addresses import make_address
from service.extensions import db
from service.inbound.store import process_job_id, receive
from service.models import Community, InboundMessage, Member, OutboundEmail
from service.queue import get_queue
from tests.conftest import run_worker
from tests.inbound_mail import compose


def _burst(count: int) -> list[int]:
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    address = make_address("unsubscribe", ana.id)
    return [receive(compose("ana@example.org", address, "unsubscribe"), address, "mta")[0].id
            for _ in range(count)]


def _statuses() -> dict[int, str]:
    db.session.expire_all()
    return dict(db.session.execute(select(InboundMessage.id, InboundMessage.status)).all())


def test_one_job_processes_the_messages_waiting_behind_it_and_their_jobs_do_nothing(app, ctx, personas):
    from jobs.inbound import process
    first, *others = _burst(4)
    assert get_queue().count == 4
    process(first)
    assert set(_statuses().values()) == {"done"}
    assert [process(row_id) for row_id in others] == ["already processed"] * 3


def test_a_message_whose_processing_was_started_before_is_left_to_its_own_job(app, ctx, personas):
    from jobs.inbound import process
    first, interrupted, waiting = _burst(3)
    db.session.get(InboundMessage, interrupted).attempts = 1  # a work-horse died while processing it
    db.session.commit()
    process(first)
    assert _statuses() == {first: "done", interrupted: "received", waiting: "done"}
    process(interrupted)
    assert _statuses()[interrupted] == "done"


# --- what a batch leaves on the queue --------------------------------------------------------------

def _replies(count: int) -> list[int]:
    """`count` replies from Ana that answer nothing of ours: each is unclear, and confirmed to her."""
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    riverside = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    address = make_address("reply", ana.id, riverside.id)
    return [receive(compose("ana@example.org", address, f"Re: something else {number}", "Yes"), address, "mta")[0].id
            for number in range(count)]


def _confirmations_mailed(smtp) -> list[str]:
    """The In-Reply-To of every confirmation the SMTP server received: the member's message each answers."""
    return [r.message["In-Reply-To"] for r in smtp.to("ana@example.org") if r.message["Auto-Submitted"]]


def _sent_message_ids(row_ids: list[int]) -> list[str]:
    return [db.session.get(InboundMessage, row_id).message_id for row_id in row_ids]


def test_a_batch_takes_the_jobs_it_made_useless_off_the_queue_and_confirms_in_one_delivery_job(
        app, ctx, personas, smtp):
    from jobs.inbound import process
    row_ids = _replies(5)
    first = row_ids[0]
    process(first)  # as its work-horse would
    assert set(_statuses().values()) == {"unclear"}
    queued = get_queue().jobs
    assert [job.func_name for job in queued] == ["jobs.inbound.process", "jobs.delivery.deliver"]
    assert queued[0].id == process_job_id(first)  # the others' jobs are gone, their messages done
    confirmations = db.session.scalars(select(OutboundEmail.id).where(OutboundEmail.kind == "reply_unclear")).all()
    assert sorted(queued[1].args[0]) == sorted(confirmations) and len(confirmations) == 5

    run_worker(app)
    assert sorted(_confirmations_mailed(smtp)) == sorted(_sent_message_ids(row_ids))  # each once
    assert get_queue().count == 0


def test_messages_a_dead_work_horse_had_claimed_are_processed_by_their_own_jobs_and_confirmed_once(
        app, ctx, personas, smtp):
    from service.inbound.process import _claim_waiting
    row_ids = _replies(3)
    assert _claim_waiting(10) == row_ids  # the horse counted their attempts, then died
    assert set(_statuses().values()) == {"received"}
    run_worker(app)
    assert set(_statuses().values()) == {"unclear"}
    assert sorted(_confirmations_mailed(smtp)) == sorted(_sent_message_ids(row_ids))


def test_mail_queued_where_deliveries_are_gathered_waits_for_the_end_and_a_dead_process_leaves_it_to_the_sweeper(
        app, ctx, personas, smtp):
    from service import mailer, sweeper
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    riverside = db.session.scalar(select(Community).where(Community.name == "Riverside COP"))
    with mailer.deliveries_gathered():
        for number in range(3):
            mailer.queue_email("welcome", ana, f"gathered:{number}", {}, riverside)
            db.session.commit()
        assert get_queue().count == 0  # a process that died here would have enqueued nothing
    [job] = get_queue().jobs
    assert len(job.args[0]) == 3
    get_queue().empty()  # as if it had died: the rows wait in the database
    sweeper.sweep(grace=timedelta(0))
    run_worker(app)
    assert len(smtp.to("ana@example.org")) == 3
    assert set(db.session.scalars(select(OutboundEmail.status).where(
        OutboundEmail.idempotency_key.like("gathered:%")))) == {"sent"}
