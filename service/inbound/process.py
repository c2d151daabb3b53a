"""Processing one received message: who sent it, then the handler for the address it came to.

Only a `received` row is processed, so a job run twice acts once. Whatever
goes wrong, the raw message stays: an exception marks the row `failed` with
the reason, for a coordinator to see and process again.
"""
import time

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from service import bounces, clock, mailer, preferences
from service.addresses import read_address
from service.extensions import db
from service.inbound import itip
from service.inbound.automatic import automatic_reason
from service.inbound.message import Incoming, read_message
from service.inbound.store import drop_jobs
from service.models import Community, InboundMessage, Meeting, Member, Membership
from service.normalize import email_address as normal_email
from service.errors import DomainError


def process(inbound_id: int) -> str:
    """Process a stored message once; returns its status (and outcome) as a short text for logs."""
    row = db.session.get(InboundMessage, inbound_id, with_for_update=True)
    if row is None or row.status != "received":
        db.session.rollback()
        return "already processed" if row else "no such message"
    row.attempts += 1
    db.session.commit()
    return _process_counted(inbound_id)


def _process_counted(inbound_id: int) -> str:
    """Process a message whose attempt is counted and committed (a horse that dies now leaves the count for
    the sweeper); what it made of the message is committed with the message's own changes, or not at all."""
    try:
        row = db.session.get(InboundMessage, inbound_id, with_for_update=True)
        if row.status != "received":  # processed by another job meanwhile
            db.session.rollback()
            return "already processed"
        _route(row, read_message(row.raw))
        result = _result(row)  # read before the commit expires the row (reloading it would fetch the raw again)
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        current_app.logger.exception("inbound message %s could not be processed", inbound_id)
        row = db.session.get(InboundMessage, inbound_id)
        finish(row, "failed", reason=f"processing failed ({type(error).__name__}); the message is kept")
        result = _result(row)
        db.session.commit()
    return result


def _result(row: InboundMessage) -> str:
    return f"{row.status}" + (f": {row.outcome}" if row.outcome else "")


# A forking worker's job costs about 40 ms CPU however little it does (the fork, the work-horse's pages copied as
# it touches them, its own database connection): with 50 a job, that was 2 ms a reply of bench/inbound.py.
WAITING_BATCH, WAITING_SECONDS, CLAIM_SIZE = 200, 20, 10
# In a burst, how long a job that has taken waiting messages waits for the next one before it ends, and how often
# it looks meanwhile.
LINGER_SECONDS, LINGER_POLL = 0.25, 0.05


def process_with_waiting(inbound_id: int) -> str:
    """Process this message, then, in the same job, up to WAITING_BATCH others still waiting.

    A job per message pays for a work-horse and a database connection each
    time, more than the processing itself when replies arrive in a burst
    (bench/inbound.py). So a job goes on with messages that have not been
    started, CLAIM_SIZE at a time: one commit counts an attempt for each
    (claimed with SKIP LOCKED: two workers never take the same one), then
    each is processed and committed on its own. Their own jobs, now with
    nothing to do, are taken off the queue (store.drop_jobs); one already
    started finds its message processed and returns. A horse that dies
    leaves the claimed messages it had not finished `received`, for their
    own jobs. A message whose processing was started before (a killed
    horse) is left to its own job and the sweeper's attempt count.

    The confirmations the batch queues go out in one delivery job at its end,
    not one each (mailer.deliveries_gathered).

    A job that has taken waiting messages (a burst) finds none waiting as soon
    as it outpaces the mail coming in: it waits LINGER_SECONDS for more before
    it ends, rather than leave each message arriving after to a job and a
    work-horse (and its confirmations to a delivery job) of its own.
    """
    with mailer.deliveries_gathered():
        result = process(inbound_id)
        deadline = time.monotonic() + WAITING_SECONDS
        taken, idle_since = 0, None
        while taken < WAITING_BATCH and time.monotonic() < deadline:
            claimed = _claim_waiting(min(CLAIM_SIZE, WAITING_BATCH - taken))
            if not claimed:
                idle_since = idle_since or time.monotonic()
                if not taken or time.monotonic() - idle_since >= LINGER_SECONDS:
                    break
                time.sleep(LINGER_POLL)
                continue
            idle_since = None
            for row_id in claimed:
                _process_counted(row_id)
            drop_jobs(claimed)
            taken += len(claimed)
    return result


def _claim_waiting(limit: int) -> list[int]:
    """Count an attempt, in one commit, for up to `limit` messages whose processing nobody has started."""
    waiting = (select(InboundMessage.id).where(InboundMessage.status == "received", InboundMessage.attempts == 0)
               .order_by(InboundMessage.id).limit(limit).with_for_update(skip_locked=True))
    claimed = db.session.scalars(
        update(InboundMessage).where(InboundMessage.id.in_(waiting.scalar_subquery()))
        .values(attempts=InboundMessage.attempts + 1).returning(InboundMessage.id),
        execution_options={"synchronize_session": False}).all()
    db.session.commit()
    return sorted(claimed)


def finish(row: InboundMessage, status: str, outcome: str | None = None, reason: str = "", **detail) -> None:
    """Record what processing made of the message."""
    row.status, row.outcome, row.reason = status, outcome, reason[:2000]
    row.detail = {**(row.detail or {}), **detail}
    row.processed_at = clock.now()


def _route(row: InboundMessage, incoming: Incoming) -> None:
    row.from_address = incoming.from_address or row.from_address
    row.subject = incoming.subject or row.subject
    if incoming.problems:
        row.detail = {**(row.detail or {}), "problems": incoming.problems[:20]}
    address = read_address(row.envelope_to)
    if row.purpose == "bounce":
        return finish(row, "done", "bounce",
                      bounces.handle_bounce_message(row.raw, row.envelope_to, incoming.message))
    if bounces.is_delivery_report(incoming.message) if incoming.message is not None else False:
        return finish(row, "done", "bounce",
                      bounces.record_report(row.raw, bounces.returned_row(row.raw), incoming.message))
    if row.purpose == "post":
        return _post(row, incoming)
    if address is None:
        return finish(row, "held", reason="not sent to one of our signed addresses (unknown or altered)")
    # A calendar's answer is a person's click, though calendar servers mark it automatic; some send it to the
    # email's Reply-To (the member's reply address) rather than to the ORGANIZER.
    if row.purpose == "calendar":
        return _calendar(row, incoming, address[1])
    if row.purpose == "reply" and itip.calendar_replies(incoming):
        return _reply(row, incoming, address[1])
    automatic = automatic_reason(incoming)
    if automatic:
        return finish(row, "ignored", reason=automatic)
    if row.purpose == "unsubscribe":
        return _unsubscribe(row, incoming, address[1])
    if row.purpose == "moderate":
        from service.inbound import moderation_replies  # it needs the conversations' modules; bounces do not
        return moderation_replies.handle(row, incoming, address[1])
    if row.purpose == "reply":
        return _reply(row, incoming, address[1])
    return finish(row, "held", reason=f"sent to an address we do not read ({row.purpose})")


def _post(row: InboundMessage, incoming: Incoming) -> None:
    """To a community's own address: a post to its conversations, unless no person wrote it (never posted,
    never answered: that is how list loops start)."""
    automatic = automatic_reason(incoming)
    if automatic:
        return finish(row, "ignored", reason=automatic)
    from service.inbound import posts
    posts.handle(row, incoming)


def _unsubscribe(row: InboundMessage, incoming: Incoming, ids: tuple[int, ...]) -> None:
    """The List-Unsubscribe mailto: the signed address alone decides (a mail client's unsubscribe button
    sends from whatever account it has); no mail follows, not even a confirmation."""
    member = db.session.get(Member, ids[0])
    if member is None:
        return finish(row, "held", reason="the member of this unsubscribe address no longer exists")
    changed = preferences.unsubscribe(member, via="email")
    row.member_id = member.id  # after: its queries would otherwise flush the row in an UPDATE of its own
    finish(row, "done", "unsubscribed", "" if changed else "was already unsubscribed")


def _calendar(row: InboundMessage, incoming: Incoming, ids: tuple[int, ...]) -> None:
    # With its community, which recording the answer reads (whether it is archived): one query, not two.
    meeting = db.session.get(Meeting, ids[0], options=[joinedload(Meeting.community)])
    if meeting is None:
        return finish(row, "held", reason="the meeting of this calendar address no longer exists")
    from service.inbound import calendar
    calendar.handle(row, incoming, meeting)
    row.community_id = meeting.community_id  # after: the handler's lookups would flush it in an UPDATE of its own


def _reply(row: InboundMessage, incoming: Incoming, ids: tuple[int, ...]) -> None:
    if len(ids) != 2:
        return finish(row, "held", reason="a reply address of an unknown shape")
    found = _member_in_community(ids[0], ids[1])
    if found is None:
        return finish(row, "held", reason="the member or community of this reply address no longer exists")
    member, community, language = found
    row.community_id = community.id  # after the query: it would otherwise flush the row in an UPDATE of its own
    if language is None:
        return finish(row, "held", reason="the member of this reply address is not in this community")
    if not same_address(incoming.from_address, member.email):
        return finish(row, "held", reason=f"sent from {incoming.from_address or 'no address'}, not from the "
                                          f"address of the member this reply address belongs to")
    row.member_id = member.id
    from service.inbound import calendar, replies  # understanding replies needs their parsers; bounces do not
    if not calendar.handle_if_calendar_reply(row, incoming, member, community):
        replies.handle(row, incoming, member, community, language=language)


def _member_in_community(member_id: int, community_id: int) -> tuple[Member, Community, str | None] | None:
    """The member, the community and the language of the member's membership there (None when they are not
    in it), in one query rather than three; None when the member or the community does not exist."""
    return db.session.execute(
        select(Member, Community, Membership.language).select_from(Member)
        .join(Community, Community.id == community_id)
        .outerjoin(Membership, (Membership.member_id == Member.id) & (Membership.community_id == Community.id))
        .where(Member.id == member_id)).first()


def same_address(sent_from: str, member_address: str) -> bool:
    """Whether From is the member's address (compared as stored: lower case, ASCII domain)."""
    try:
        return bool(sent_from) and normal_email(sent_from) == normal_email(member_address)
    except DomainError:
        return False
