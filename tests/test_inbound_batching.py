"""A processing job goes on with the messages waiting behind it (a burst of replies costs one work-horse per
batch, not per message), and never takes one whose processing was started and stopped."""
from sqlalchemy import select

from service.addresses import make_address
from service.extensions import db
from service.inbound.store import receive
from service.models import InboundMessage, Member
from service.queue import get_queue
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
