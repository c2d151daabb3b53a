"""Delivery under faults, with real worker processes, the real Redis and a real SMTP server.

A worker killed mid-batch, Redis losing the queue, two workers on one fan-out,
deferred and refused recipients, and the SMTP server being down: every email
still goes out, once, apart from the one documented window (a worker dying
between the server's 250 and our commit re-sends that one message).
"""
import asyncio
import socket
import threading
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from aiosmtpd.controller import Controller
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import func, insert, select

from service import mailer, members
from service.sweeper import sweep
from service.extensions import db
from service.models import BounceEvent, Community, Member, Membership, OutboundEmail, Suppression
from service.queue import get_queue, redis_connection
from tests.conftest import run_worker
from tests.smtp_server import RecordingHandler
from tests.worker_process import WorkerProcess, wait_until

SUBJECT = "Meeting moved to Thursday"
BODY = "Our next meeting is on Thursday at 10:00. Same room."


@pytest.fixture
def workers(app, tmp_path):
    """Start real worker processes; whatever is still running at the end of the test is killed."""
    started: list[WorkerProcess] = []

    def start(mail_port: int, **settings) -> WorkerProcess:
        worker = WorkerProcess(app, mail_port, tmp_path / f"worker-{len(started)}.log", **settings)
        started.append(worker.start())
        return worker

    yield start
    for worker in started:
        worker.cleanup()


def slow_smtp(handler: RecordingHandler, delay: float = 0.004, hold_at: int | None = None) -> threading.Event:
    """Make the server take `delay` to answer each DATA, after it has kept the message.

    With `hold_at`, the answer to message number `hold_at` (and later ones)
    waits until the returned event is set: the sender is then certainly in the
    middle of its batch, whatever the machine's load. Once the event is set the
    server answers at full speed.
    """
    original = handler.handle_DATA
    release = threading.Event()

    async def handle_DATA(server, session, envelope):
        reply = await original(server, session, envelope)  # the server has the message now
        if release.is_set():
            return reply
        await asyncio.sleep(delay)
        if hold_at is not None and len(handler.messages) >= hold_at:
            deadline = time.monotonic() + 30
            while not release.is_set() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
        return reply

    handler.handle_DATA = handle_DATA
    return release


def fan_out(community_id: int, count: int, key: str = "announcement-1") -> list[str]:
    """`count` new members of the community, and an announcement queued to each; their addresses."""
    community = db.session.get(Community, community_id)
    addresses = [f"member{i:04d}@{key}.example.net" for i in range(count)]
    db.session.execute(insert(Member), [{"email": a, "name": f"Member {i}"} for i, a in enumerate(addresses)])
    people = list(db.session.scalars(select(Member).where(Member.email.in_(addresses)).order_by(Member.id)))
    db.session.execute(insert(Membership), [{"community_id": community.id, "member_id": m.id, "name": m.name,
                                             "language": m.language}
                                            for m in people])
    queued = mailer.queue_bulk("announcement", people, lambda m: f"{key}:{m.id}",
                               lambda m: {"subject": SUBJECT, "body": BODY}, community)
    assert queued == count
    db.session.commit()  # the delivery jobs are enqueued now
    return addresses


def fresh() -> None:
    """End this session's transaction, so the next query sees what the workers committed."""
    db.session.commit()
    db.session.expire_all()


def status_counts() -> dict[str, int]:
    fresh()
    return dict(db.session.execute(select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)).all())


def all_rows() -> list[OutboundEmail]:
    fresh()
    return list(db.session.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))


def received(handler: RecordingHandler) -> Counter:
    """How many messages each address received."""
    with handler.lock:
        return Counter(rcpt.lower() for message in handler.messages for rcpt in message.rcpt_tos)


def run_worker_with_scheduler(app) -> None:
    """Like run_worker, but first moves the retries that are due from RQ's schedule onto the queue."""
    with app.app_context():
        SimpleWorker([get_queue()], connection=redis_connection()).work(burst=True, with_scheduler=True)


def test_worker_killed_mid_batch_resends_at_most_the_message_in_flight(app, ctx, personas, smtp, workers):
    release = slow_smtp(smtp, hold_at=60)
    addresses = fan_out(personas["riverside"], 300)
    queue = get_queue()
    ids = sorted(row_id for job in queue.get_jobs() for row_id in job.args[0])
    queue.empty()
    queue.enqueue("jobs.delivery.deliver", ids)  # one job holds the whole fan-out (as with MAIL_BATCH_SIZE 500)
    worker = workers(app.config["MAIL_PORT"])

    wait_until(lambda: len(smtp.messages) >= 30, 60, "the worker to deliver part of its first batch",
               on_timeout=worker.log)
    worker.kill()
    release.set()

    counts = status_counts()
    assert counts.get("sending", 0) > 0, f"the worker should have died holding claimed rows: {counts}"
    # The job claims its ids a hundred at a time: only the first hundred were out of reach.
    assert 0 < counts.get("sent", 0) < 100 and counts.get("pending", 0) == 200, counts

    result = sweep(stuck_after=timedelta(0), grace=timedelta(0))
    # (A commit the dead worker had already sent can still land on PostgreSQL after the kill;
    # the sweep waits for its row lock and leaves that row alone, so count what it released.)
    released = {row.recipient for row in all_rows()
                if row.last_error == "the worker stopped while sending; sent again"}
    assert result["released"] == len(released) > 0
    assert status_counts().get("sending", 0) == 0
    run_worker(app)

    rows = all_rows()
    assert {row.status for row in rows} == {"sent"}, Counter(row.status for row in rows)
    got = received(smtp)
    assert set(got) == set(addresses), "somebody got nothing"
    duplicates = {address: n for address, n in got.items() if n > 1}
    # One worker died, so at most one message was both accepted by the server and not yet recorded as sent.
    assert sum(n - 1 for n in duplicates.values()) <= 1, duplicates
    assert set(duplicates) <= released, "only a row the dead worker held can have gone twice"
    for row in rows:
        assert row.message_id and row.sent_at and row.last_error is None


def test_redis_flushed_mid_fan_out_loses_nothing(app, ctx, personas, smtp, workers, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 100)
    release = slow_smtp(smtp, hold_at=60)
    addresses = fan_out(personas["riverside"], 300)
    worker = workers(app.config["MAIL_PORT"])

    wait_until(lambda: len(smtp.messages) >= 30, 60, "the worker to deliver part of its first batch",
               on_timeout=worker.log)
    redis_connection().flushdb()  # the queued batches, the scheduler's state, everything in Redis: gone
    assert len(get_queue()) == 0
    release.set()
    worker.stop()  # finishes the batch it holds, then finds nothing more to do

    counts = status_counts()
    assert counts == {"sent": 100, "pending": 200}, f"only the batch in hand went out: {counts}"
    assert len(received(smtp)) == 100

    result = sweep(grace=timedelta(0))
    assert result == {"released": 0, "failed": 0, "requeued": 200}
    run_worker(app)

    rows = all_rows()
    assert {row.status for row in rows} == {"sent"}, Counter(row.status for row in rows)
    got = received(smtp)
    assert set(got) == set(addresses) and set(got.values()) == {1}, \
        {a: n for a, n in got.items() if n != 1}
    assert {row.attempts for row in rows} == {1}


def test_two_workers_on_one_fan_out_send_each_email_once(app, ctx, personas, smtp, workers, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 100)
    slow_smtp(smtp, delay=0.003)
    addresses = fan_out(personas["riverside"], 300)
    queue = get_queue()
    batches = [job.args[0] for job in queue.get_jobs()]
    assert sorted(len(b) for b in batches) == [100, 100, 100]
    queue.empty()

    port = app.config["MAIL_PORT"]
    first, second = workers(port), workers(port)
    first.wait_ready()
    second.wait_ready()
    # Each batch twice, back to back (a retried job, or the sweeper's copy): the two workers pick up
    # the same ids at the same moment, and only the claim keeps them from both sending.
    jobs = queue.enqueue_many([queue.prepare_data("jobs.delivery.deliver", args=(ids,))
                               for ids in batches for _copy in range(2)])

    def all_done():
        return all(job.get_status(refresh=True) in ("finished", "failed") for job in jobs)

    wait_until(all_done, 60, "the workers to run every job",
               on_timeout=lambda: f" {status_counts()}" + first.log() + second.log())
    first.stop()
    second.stop()

    assert [job.get_status(refresh=True) for job in jobs] == ["finished"] * len(jobs)
    rows = all_rows()
    assert {row.status for row in rows} == {"sent"}, Counter(row.status for row in rows)
    assert {row.attempts for row in rows} == {1}, "a row was claimed twice"
    got = received(smtp)
    assert set(got) == set(addresses) and set(got.values()) == {1}, \
        {a: n for a, n in got.items() if n != 1}
    results = [Job.fetch(job.id, connection=redis_connection()) for job in jobs]
    assert sum(job.return_value()["sent"] for job in results) == 300
    assert len({job.worker_name for job in results}) == 2, "both workers should have delivered"


def test_deferred_recipient_is_retried_after_backoff_and_sent_once(app, ctx, personas, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_RETRY_BASE_SECONDS", 1)
    community = db.session.get(Community, personas["riverside"])
    members.add_member(None, community, name="Luz Ortega", email="luz@example.org")
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    luz = db.session.scalar(select(Member).where(Member.email == "luz@example.org"))
    smtp.scripted["ana@example.org"] = ["421 4.7.0 Too many messages, try again later"]
    mailer.queue_bulk("announcement", [ana, luz], lambda m: f"news:{m.id}",
                      lambda m: {"subject": SUBJECT, "body": BODY}, community)
    db.session.commit()
    started = datetime.now(timezone.utc)
    run_worker(app)

    assert smtp.to("ana@example.org") == []
    # smtplib hangs up on a 421; the rest of the batch goes on over a new connection.
    assert len(smtp.to("luz@example.org")) == 1
    rows = {row.recipient: row for row in all_rows()}
    assert rows["luz@example.org"].status == "sent" and rows["luz@example.org"].attempts == 1
    row = rows["ana@example.org"]
    assert row.status == "pending" and row.attempts == 1
    assert "421" in row.last_error and "try again later" in row.last_error
    due = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=timezone.utc)
    assert started + timedelta(seconds=1) <= due <= datetime.now(timezone.utc) + timedelta(seconds=3)
    assert len(get_queue().scheduled_job_registry) == 1, "the retry should be scheduled in RQ"
    assert sweep(grace=timedelta(0))["requeued"] == 0, "a row waiting for its retry is not swept early"
    run_worker(app)
    assert smtp.to("ana@example.org") == []

    wait_until(lambda: datetime.now(timezone.utc) >= due, 10, "the retry to be due", interval=0.05)
    wait_until(lambda: (run_worker_with_scheduler(app), smtp.to("ana@example.org"))[1], 10,
               "the scheduled retry to deliver", interval=0.2)
    sweep(grace=timedelta(0))  # a sweeper pass after the fact sends nothing again
    run_worker(app)

    rows = {row.recipient: row for row in all_rows()}
    assert rows["ana@example.org"].status == "sent" and rows["ana@example.org"].attempts == 2
    assert rows["ana@example.org"].last_error is None
    assert rows["luz@example.org"].status == "sent" and rows["luz@example.org"].attempts == 1
    assert len(smtp.to("ana@example.org")) == 1 and len(smtp.to("luz@example.org")) == 1


def test_refused_recipient_fails_at_once_bounces_and_is_suppressed_later(app, ctx, personas, smtp):
    community = db.session.get(Community, personas["riverside"])
    members.add_member(None, community, name="Luz Ortega", email="luz@example.org")
    ana = db.session.scalar(select(Member).where(Member.email == "ana@example.org"))
    luz = db.session.scalar(select(Member).where(Member.email == "luz@example.org"))
    smtp.scripted["ana@example.org"] = ["550 5.1.1 <ana@example.org>: Recipient address rejected: User unknown"]
    mailer.queue_bulk("announcement", [ana, luz], lambda m: f"first:{m.id}",
                      lambda m: {"subject": SUBJECT, "body": BODY}, community)
    db.session.commit()
    run_worker(app)

    rows = {row.recipient: row for row in all_rows()}
    refused = rows["ana@example.org"]
    assert refused.status == "failed" and refused.attempts == 1 and refused.next_attempt_at is None
    assert "550" in refused.last_error and "User unknown" in refused.last_error
    assert rows["luz@example.org"].status == "sent" and rows["luz@example.org"].attempts == 1
    assert len(get_queue().scheduled_job_registry) == 0, "a permanent refusal is not retried"
    [bounce] = db.session.scalars(select(BounceEvent).where(BounceEvent.member_id == ana.id))
    assert bounce.kind == "hard" and bounce.outbound_email_id == refused.id and "550" in bounce.diagnostic
    assert db.session.get(Member, ana.id).status == "bounced"
    assert db.session.scalar(select(Suppression).where(Suppression.address == "ana@example.org")).reason == "bounced"

    mailer.queue_bulk("announcement", [db.session.get(Member, ana.id), db.session.get(Member, luz.id)],
                      lambda m: f"second:{m.id}", lambda m: {"subject": "Minutes", "body": "Attached."}, community)
    db.session.commit()
    run_worker(app)
    later = db.session.scalar(select(OutboundEmail).where(OutboundEmail.idempotency_key == f"second:{ana.id}"))
    fresh()
    assert later.status == "suppressed" and later.last_error == "bounced"
    assert smtp.to("ana@example.org") == []
    assert len(smtp.to("luz@example.org")) == 2


def test_smtp_server_down_then_back_sends_everything_once(app, ctx, personas, workers, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BATCH_SIZE", 100)
    # A port that is bound but not listening: connections are refused, and no other process can take it.
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    port = reserved.getsockname()[1]
    addresses = fan_out(personas["riverside"], 150)
    worker = workers(port, MAIL_RETRY_BASE_SECONDS=1)
    handler, controller = RecordingHandler(), None
    try:
        def all_deferred():
            rows = all_rows()
            return all(r.status == "pending" and r.attempts >= 1 and r.next_attempt_at for r in rows) and rows

        rows = wait_until(all_deferred, 60, "every row to be tried and deferred",
                          on_timeout=lambda: f" {status_counts()}" + worker.log())
        assert len(rows) == 150
        for row in rows:
            assert "refused" in row.last_error.lower(), row.last_error
            assert row.next_attempt_at > row.updated_at, "a retry waits: backoff"

        reserved.close()
        controller = Controller(handler, hostname="127.0.0.1", port=port, decode_data=False)
        controller.start()

        wait_until(lambda: status_counts() == {"sent": 150}, 60, "the retries to deliver everything",
                   interval=0.1, on_timeout=lambda: f" {status_counts()}" + worker.log())
        worker.stop()
    finally:
        reserved.close()
        if controller is not None:
            controller.stop()

    rows = all_rows()
    assert all(row.attempts >= 2 and row.last_error is None for row in rows)
    got = received(handler)
    assert set(got) == set(addresses) and set(got.values()) == {1}, \
        {a: n for a, n in got.items() if n != 1}


def test_a_row_that_cannot_render_fails_at_once_and_the_rest_of_its_batch_is_sent(app, ctx, personas, smtp):
    community = db.session.get(Community, personas["riverside"])
    for name in ("Luz Ortega", "Mia Chen"):
        members.add_member(None, community, name=name, email=f"{name.split()[0].lower()}@example.org")
    people = list(db.session.scalars(select(Member).join(Membership).where(
        Membership.community_id == community.id).order_by(Member.id)))
    broken = people[1]  # in the middle of the batch
    mailer.queue_bulk("announcement", people, lambda m: f"news:{m.id}",
                      lambda m: {"subject": SUBJECT} if m is broken else {"subject": SUBJECT, "body": BODY},
                      community)
    db.session.commit()
    run_worker(app)

    rows = {row.recipient: row for row in all_rows()}
    bad = rows.pop(broken.email)
    assert bad.status == "failed" and bad.attempts == 1 and bad.next_attempt_at is None
    assert bad.last_error == "rendering failed: UndefinedError: 'body' is undefined"
    assert {row.status for row in rows.values()} == {"sent"}
    assert smtp.to(broken.email) == [] and all(len(smtp.to(address)) == 1 for address in rows)
    assert len(get_queue().scheduled_job_registry) == 0, "a rendering error is not retried"


def test_a_row_that_kills_its_job_every_time_fails_after_max_attempts_and_the_rest_go_out(
        app, ctx, personas, smtp, workers, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 2)
    addresses = fan_out(personas["riverside"], 6)
    poison = addresses[2]
    rcpt_seen, release = threading.Event(), threading.Event()
    original = smtp.handle_RCPT

    async def handle_RCPT(server, session, envelope, address, rcpt_options):
        if address == poison:  # the worker hangs on this one until the test kills it
            rcpt_seen.set()
            while not release.is_set():
                await asyncio.sleep(0.01)
        return await original(server, session, envelope, address, rcpt_options)

    smtp.handle_RCPT = handle_RCPT
    try:
        for attempt in (1, 2):
            worker = workers(app.config["MAIL_PORT"], MAIL_MAX_ATTEMPTS=2)
            wait_until(rcpt_seen.is_set, 60, "the worker to reach the poison row", on_timeout=worker.log)
            worker.kill()
            rcpt_seen.clear()
            result = sweep(stuck_after=timedelta(0), grace=timedelta(0))
            rows = {row.recipient: row for row in all_rows()}
            assert rows[poison].attempts == attempt
            if attempt == 1:
                assert rows[poison].status == "pending" and result["failed"] == 0
                # Those claimed with it and not yet sent go again, one job each.
                assert result["released"] == len([r for r in rows.values() if r.status == "pending"]) > 1
            else:
                assert rows[poison].status == "failed" and result["failed"] == 1
                assert rows[poison].last_error == "gave up after 2 attempts: the worker stopped while sending"
    finally:
        release.set()
    run_worker(app)

    rows = {row.recipient: row for row in all_rows()}
    assert rows.pop(poison).status == "failed"
    assert {row.status for row in rows.values()} == {"sent"}
    got = received(smtp)
    assert poison not in got and set(got) == set(rows) and set(got.values()) == {1}
    assert sweep(stuck_after=timedelta(0), grace=timedelta(0))["requeued"] == 0, "nothing left to try"


def _deliver_in_thread(app, ids: list[int]) -> tuple[threading.Thread, dict]:
    """deliver_batch(ids) in a thread of its own (another worker, in this process); its result in the dict."""
    from service.delivery import deliver_batch
    result: dict = {}

    def run():
        with app.app_context():
            try:
                result.update(deliver_batch(ids))
            finally:
                db.session.remove()
    thread = threading.Thread(target=run)
    thread.start()
    return thread, result


def _queued_ids() -> list[int]:
    """The ids of the delivery jobs queued so far, taken off the queue."""
    queue = get_queue()
    ids = sorted(row_id for job in queue.get_jobs() for row_id in job.args[0])
    queue.empty()
    return ids


def test_a_batch_slower_than_the_sending_timeout_keeps_its_rows_and_each_email_goes_once(
        app, ctx, personas, smtp, workers, monkeypatch):
    # Start-up refuses a timeout this short; here it makes an ordinary batch "slow": it lasts four times as long.
    # (2 s rather than 1: the batch renews its claim every quarter of it, and on a loaded machine a renewal came
    # more than a second late, so the sweeper rightly took rows back.)
    monkeypatch.setitem(app.config, "MAIL_SENDING_TIMEOUT", 2)
    slow_smtp(smtp, delay=0.2)
    addresses = fan_out(personas["riverside"], 40)
    ids = _queued_ids()
    other = workers(app.config["MAIL_PORT"]).wait_ready()  # takes whatever the sweeper puts back on the queue
    stop, sweeps = threading.Event(), []

    def sweeper():
        with app.app_context():
            while not stop.is_set():
                sweeps.append(sweep(grace=timedelta(minutes=1)))
                db.session.remove()
                time.sleep(0.1)
    sweeping = threading.Thread(target=sweeper)
    sweeping.start()
    try:
        thread, result = _deliver_in_thread(app, ids)
        thread.join(60)
    finally:
        stop.set()
        sweeping.join()
    wait_until(lambda: len(get_queue()) == 0, 30, "the other worker to empty the queue", on_timeout=other.log)
    other.stop()
    assert len(sweeps) > 20 and not any(result["released"] for result in sweeps), sweeps

    got = received(smtp)
    assert set(got) == set(addresses) and set(got.values()) == {1}, {a: n for a, n in got.items() if n != 1}
    rows = all_rows()
    assert {row.status for row in rows} == {"sent"} and {row.attempts for row in rows} == {1}
    assert result["sent"] == 40 and result["taken"] == 0, result


def test_rows_claimed_again_by_another_job_are_neither_overwritten_nor_sent(app, ctx, personas, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_SENDING_TIMEOUT", 1)  # the batch checks its claim every 0.25 s
    release = slow_smtp(smtp, hold_at=5)
    fan_out(personas["riverside"], 20)
    ids = _queued_ids()
    thread, result = _deliver_in_thread(app, ids)
    try:
        wait_until(lambda: len(smtp.messages) >= 5, 30, "the batch to send its fifth message")
        # An operator's sweep takes the batch's rows back, and another job claims them.
        assert sweep(stuck_after=timedelta(0), grace=timedelta(minutes=1))["released"] == 16
        get_queue().empty()
        from service.claims import claim
        taken = claim(ids)
        assert sorted(taken) == ids[4:]
        time.sleep(0.5)
    finally:
        release.set()
        thread.join(30)

    assert len(smtp.messages) == 5, "nothing sent after the batch lost its claim"
    rows = all_rows()
    assert [row.status for row in rows[:4]] == ["sent"] * 4
    # The fifth was in flight when it was taken: its 250 does not overwrite the other job's claim.
    assert {(row.status, row.attempts, row.sent_at) for row in rows[4:]} == {("sending", 2, None)}
    assert (result["sent"], result["taken"]) == (5, 15), result


def test_a_job_out_of_time_hands_its_unclaimed_rows_to_a_job_due_now_and_each_email_goes_once(
        app, ctx, personas, smtp, monkeypatch):
    """On a starved machine a 500-row job could outlast RQ's timeout, which would cut it off mid-send: past
    its budget a job claims no more, and what it did not claim goes at once in a job of its own."""
    from service import delivery
    monkeypatch.setattr(delivery, "JOB_BUDGET_SECONDS", 0)  # out of time as soon as its first claim is sent
    addresses = fan_out(personas["riverside"], 250)
    get_queue().enqueue("jobs.delivery.deliver", _queued_ids())  # one job for the whole fan-out

    run_worker(app)
    assert status_counts() == {"sent": delivery.CLAIM_SIZE, "pending": 250 - delivery.CLAIM_SIZE}
    assert len(received(smtp)) == delivery.CLAIM_SIZE
    scheduled = get_queue().scheduled_job_registry
    assert len(scheduled) == 1  # the rest, in one job due now

    for _ in range(5):  # each job sends one claim's worth and hands on the rest
        run_worker_with_scheduler(app)
        if status_counts() == {"sent": 250}:
            break
    got = received(smtp)
    assert set(got) == set(addresses) and set(got.values()) == {1}
    assert {row.attempts for row in all_rows()} == {1}
