"""Delivering a job's outbox rows: claim them, render each, send it over the job's SMTP connection, record it.

Messages go one after another, and each outcome is committed before the
next message is sent, so a crash leaves at most one message accepted by the
server and not recorded: the sweeper sends that one again. A lost 250 can
send twice too: when the server's answer to the final dot never arrives (a
timeout, a dropped connection), the message may have been accepted, and SMTP
gives no way to know; the row is tried again. What does overlap is rendering:
the next message is made while the server takes the one before, time the
worker would otherwise spend waiting; nothing of it is sent until its turn.

A refusal about the recipient is a hard bounce. One about us (our sender,
the relay, the content: service.smtp_refusals) stops the job: its rows wait
for a retry, the coordinator sees the server's words on the Outbox page, and
no member is suppressed. So does the same refusal for RELAY_STREAK different
recipients in a row, whatever it says: a relay refusing everyone.
"""
import smtplib
import time
from datetime import datetime

import psycopg
from flask import current_app
from rq import Queue
from rq.timeouts import BaseTimeoutException
from sqlalchemy import exc, update

from service import audit, bounces, claims, clock, retry
from service.batch_render import BatchRenderer
from service.email_render import (HeaderInjectionError, message_id_for, new_message_id, render_for_coordinator,
                                  to_bytes)
from service.extensions import db
from service.mailer import ARCHIVED, KINDS, row_suppression, suppressed_addresses
from service.models import Community, Member, OutboundEmail
from service.outcomes import Outcomes, outcome_writer
from service.smtp_refusals import Refusal, refusal
from service.smtp_send import SmtpConnection, send_message

CLAIM_SIZE = 100  # rows claimed (and so left `sending` by a crash) at a time
RELAY_STREAK = 5  # the same refusal for this many different recipients in a row is the relay's, not theirs
CONNECTION_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, OSError)
# A job claims no more rows after this long and hands the rest to a job of their own, due at once: half RQ's job
# timeout, so that on a starved machine one claim's worth (CLAIM_SIZE rows) still ends before RQ's timeout does.
JOB_BUDGET_SECONDS = Queue.DEFAULT_TIMEOUT / 2
# The database connection gone (a restart, a terminated backend): through SQLAlchemy, or through the outcome
# writer's own psycopg cursor (service.outcomes), which SQLAlchemy does not wrap.
DATABASE_GONE = (exc.OperationalError, exc.InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


class DeliveryStopped(Exception):
    """The server refused something about us: the job stops, and its rows wait until `when`."""

    def __init__(self, when: datetime):
        super().__init__(when)
        self.when = when


def deliver_batch(ids: list[int]) -> dict:
    """Send the rows among `ids` that are ours to send; returns counts and the retries to schedule.

    A job carries up to MAIL_BATCH_SIZE ids (forking a work-horse per job costs
    tens of milliseconds here) and sends them over one SMTP connection, but
    claims them CLAIM_SIZE at a time: a worker that dies leaves at most that
    many rows `sending` for the sweeper, and the rest of its batch still pending.
    After JOB_BUDGET_SECONDS it claims no more: the rest are retries due now, a
    job of their own, rather than rows RQ's timeout would cut off mid-send.
    """
    # Each outcome is committed on its own; expiring the batch at every commit would
    # reload each row, member and community (three SELECTs per message) for nothing.
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    batch = None
    try:
        with outcome_writer() as outcomes, SmtpConnection() as smtp:
            batch = Batch(outcomes, smtp)
            out_of_time = time.monotonic() + JOB_BUDGET_SECONDS
            for start in range(0, len(ids), CLAIM_SIZE):
                if start and time.monotonic() >= out_of_time:
                    when = clock.now()
                    batch.note_retry(claims.postpone(ids[start:], when), when)
                    break
                try:
                    batch.deliver(ids[start:start + CLAIM_SIZE])
                except DeliveryStopped as stop:
                    batch.note_retry(claims.postpone(ids[start + CLAIM_SIZE:], stop.when), stop.when)
                    break
            else:
                batch.record_refusals()
    except DATABASE_GONE as error:
        if batch is None:
            raise  # nothing claimed yet
        _hand_back_after_losing_the_database(batch, ids, error)
    finally:
        session.expire_on_commit = expire_on_commit
    return batch.tally


def _hand_back_after_losing_the_database(batch: "Batch", ids: list[int], error: Exception) -> None:
    """The database connection dropped mid-batch: the rows this job holds, and those it had yet to claim, wait
    for a retry shortly (MAIL_RETRY_BASE_SECONDS), instead of staying `sending` until the sweeper's
    MAIL_SENDING_TIMEOUT (five minutes) takes them back.

    The row in flight is among them: if the server took it before its outcome
    was lost, it goes twice, the window the sweeper has too. If the database
    does not answer now either (a restart), the rows are left to the sweeper
    and the error goes on: the job fails.
    """
    # The session's connection may be gone too: drop it without a ROLLBACK (which would raise); the next
    # statement takes a fresh connection from the pool.
    db.session().invalidate()
    when = retry.backoff(1)
    try:
        waiting = set(claims.hand_back(batch.held, when)) | set(claims.postpone(ids, when))
    except DATABASE_GONE:
        db.session().invalidate()
        raise error from None
    batch.note_retry(sorted(waiting), when)
    current_app.logger.warning("the database connection was lost mid-batch (%s): %d outbox rows wait until %s",
                               str(error).splitlines()[0] if str(error) else type(error).__name__, len(waiting),
                               when.isoformat())


def compile_statements() -> None:
    """Run delivery's queries once, on no rows, so their compiled SQL is cached (workers do it before forking).

    SQLAlchemy caches each statement's SQL on the engine, and a work-horse
    inherits that cache; otherwise every job compiled its claim, load and
    lookups again.
    """
    held = claims.claim([])
    claims.load(held)
    claims.renew({0: 0})
    suppressed_addresses([""])
    BatchRenderer().learn_names([(None, Member(id=0), Community(id=0))])
    db.session.rollback()


class Batch:
    """One job's delivery: its connection, renderer and outcome writer, what it did, and the refusals it holds.

    Refusals of recipients are held back (the rows stay claimed) while they
    are the same refusal in a row: recorded as bounces once something else
    happens, or treated as the relay's problem at RELAY_STREAK of them.
    """

    def __init__(self, outcomes: Outcomes, smtp: SmtpConnection):
        self.outcomes, self.smtp, self.renderer = outcomes, smtp, BatchRenderer()
        self.tally = {"sent": 0, "failed": 0, "suppressed": 0, "taken": 0, "retry": {}}
        self.refused: list[tuple[OutboundEmail, Member, Refusal]] = []
        self.held: dict[int, int] = {}  # the rows claimed last, {id: attempt}: handed back if the database goes
        self._ahead: tuple[int, tuple[str, str, bytes]] | None = None  # (row id, message) from _render_ahead

    def deliver(self, ids: list[int]) -> None:
        """Claim, send and record the rows among `ids`; raises DeliveryStopped with the rows not tried handed back."""
        held = self.held = claims.claim(ids)
        if not held:
            return
        rows = claims.load(held)
        self.renderer.learn_names(rows)
        suppressed = suppressed_addresses(row.recipient for row, _m, _c in rows)
        renew_every = current_app.config["MAIL_SENDING_TIMEOUT"] / 4
        renew_at = time.monotonic() + renew_every
        index, progressed = 0, False
        while index < len(rows):
            if time.monotonic() >= renew_at:
                rows[index:] = self._still_ours(rows[index:])
                renew_at = time.monotonic() + renew_every
                continue
            try:
                following = rows[index + 1] if index + 1 < len(rows) else None
                if self._deliver_row(*rows[index], suppressed, following):
                    progressed = True
                index += 1
            except DeliveryStopped as stop:
                untried = {row.id: row.attempts for row, _m, _c in rows[index + 1:]}
                self.note_retry(claims.hand_back(untried, stop.when), stop.when)
                raise
            except CONNECTION_ERRORS as error:
                self.smtp.drop()
                db.session.rollback()
                if progressed:
                    # Closed after some progress (smtplib hangs up on any 421 reply): go on over a
                    # new connection, or one deferred address would fail the rest of its batch.
                    progressed = False
                    continue
                for row, _member, _community in rows[index:]:  # not sent: try them all again later
                    self._retry_or_fail(row, f"connection: {error}")
                break

    def _still_ours(self, rows: list) -> list:
        """Renew the claim on `rows`; those still ours (another job may have taken some: not sent here)."""
        ours = claims.renew({row.id: row.attempts for row, _m, _c in rows})
        taken = [row.id for row, _m, _c in rows if row.id not in ours]
        if taken:
            current_app.logger.warning("outbox rows %s were claimed again by another job; not sent here", taken)
            self.tally["taken"] += len(taken)
        return [entry for entry in rows if entry[0].id in ours]

    def _deliver_row(self, row, member, community, suppressed: dict[str, str], following=None) -> bool:
        """Render and send one row and commit its outcome; True if it went to the server.

        While the server takes the message, the `following` (row, member,
        community) is rendered, ready to go next (see _render_ahead).
        Raises a connection error with nothing recorded: the row is still ours to send.
        """
        message = self._rendered_ahead(row.id) or self._prepare(row, member, community, suppressed)
        if message is None:  # recorded without sending: suppressed, or failed
            return False
        message_id, envelope_from, raw = message
        host = self.smtp.get()
        try:
            if host is not None:  # MAIL_SUPPRESS_SEND: nothing goes out
                send_message(host, envelope_from, row.recipient, raw,
                             while_waiting=following and (lambda: self._render_ahead(following, suppressed)))
        except smtplib.SMTPRecipientsRefused as error:
            code, response = next(iter(error.recipients.values()))
            self._refused(row, member, refusal("rcpt", code, response))
        except smtplib.SMTPSenderRefused as error:
            self._refused(row, member, refusal("mail", error.smtp_code, error.smtp_error))
        except smtplib.SMTPDataError as error:
            self._refused(row, member, refusal("data", error.smtp_code, error.smtp_error))
        except (OSError, BaseTimeoutException):
            raise  # the connection failed: the caller decides; or the job's time is up
        except Exception as error:  # e.g. an address smtplib cannot encode: must not end the job for the rest
            current_app.logger.exception("sending outbox row %s failed", row.id)
            self.smtp.drop()  # where the conversation stopped is unknown
            db.session.rollback()
            self._retry_or_fail(row, f"sending failed: {type(error).__name__}: {error}")
        else:
            self.record_refusals()  # a message accepted: the refusals before it were about their recipients
            self._finish(row, status="sent", message_id=message_id, sent_at=clock.now(), last_error=None)
            self.tally["sent"] += 1
        return True

    def _render_ahead(self, entry, suppressed: dict[str, str]) -> None:
        """Render the next row while the server takes this one, for _deliver_row to send next.

        Nothing is sent or recorded for it here, so the rule stands that each
        outcome is committed before the next message goes. A row that is not
        to be sent, or fails to render, is left to _prepare, which records why.
        """
        row, member, community = entry
        self._ahead = None
        if member is None or row_suppression(row, member, suppressed, community):
            return
        try:
            rendered = self.renderer.render(row, member, community)
            message_id = message_id_for(row)
            self._ahead = (row.id, (message_id, rendered.envelope_from, to_bytes(rendered, message_id)))
        except BaseTimeoutException:
            raise  # RQ's timeout, raised wherever the job is: caught, it would leave the connection mid-query
        except Exception:  # rendered again in its turn, where the failure is recorded
            return

    def _rendered_ahead(self, row_id: int) -> tuple[str, str, bytes] | None:
        """The message _render_ahead made for this row, if it did (taken: it is sent at most once)."""
        ahead, self._ahead = self._ahead, None
        return ahead[1] if ahead is not None and ahead[0] == row_id else None

    def _prepare(self, row, member, community, suppressed) -> tuple[str, str, bytes] | None:
        """(Message-ID, envelope sender, bytes) to send for this row, or None once it is recorded as not to be sent."""
        if member is None and KINDS[row.kind].to_coordinator:
            if community is not None and community.archived_at is not None:  # queued before it was archived
                self._finish(row, status="suppressed", last_error=ARCHIVED)
                self.tally["suppressed"] += 1
                return None
            return self._prepare_for_coordinator(row)
        if member is None:
            self._finish(row, status="failed", last_error="the member no longer exists")
            self.tally["failed"] += 1
            return None
        reason = row_suppression(row, member, suppressed, community)
        if reason:
            self._finish(row, status="suppressed", last_error=reason)
            self.tally["suppressed"] += 1
            return None
        message_id = message_id_for(row)
        try:
            rendered = self.renderer.render(row, member, community)
            return message_id, rendered.envelope_from, to_bytes(rendered, message_id)
        except HeaderInjectionError as error:
            self._finish(row, status="failed", last_error=f"refused: {error}")
        except (BaseTimeoutException, *DATABASE_GONE):
            raise  # the job's time is up, or what a template read was lost with the connection: not the row's fault
        except Exception as error:  # a template bug must not stop the rest of the batch
            current_app.logger.exception("rendering outbox row %s failed", row.id)
            # It will not render next time either: failed at once, not retried.
            self._finish(row, status="failed",
                         last_error=f"rendering failed: {type(error).__name__}: {error}"[:1000])
        self.tally["failed"] += 1
        return None

    def _prepare_for_coordinator(self, row) -> tuple[str, str, bytes] | None:
        """The message about a coordinator's account (a password reset), or None once recorded as failed."""
        message_id = new_message_id()
        try:
            rendered = render_for_coordinator(row)
            return message_id, rendered.envelope_from, to_bytes(rendered, message_id)
        except Exception as error:  # the account is gone or disabled since: nothing to send
            self._finish(row, status="failed", last_error=f"not sent: {type(error).__name__}: {error}"[:1000])
        self.tally["failed"] += 1
        return None

    def _refused(self, row: OutboundEmail, member: Member, refused: Refusal) -> None:
        if refused.is_temporary:
            self._retry_or_fail(row, str(refused))
        elif not refused.is_about_recipient:
            self._stop(row, refused, str(refused))
        else:
            if self.refused and (self.refused[-1][2].code, self.refused[-1][2].text) != (refused.code, refused.text):
                self.record_refusals()
            self.refused.append((row, member, refused))
            if len({held.recipient.lower() for held, _m, _r in self.refused}) >= RELAY_STREAK:
                self._relay_streak()

    def _relay_streak(self) -> None:
        """The same refusal for RELAY_STREAK recipients in a row: the server's problem. No bounce; stop."""
        streak, self.refused = self.refused, []
        note = f" (the same answer for {len(streak)} recipients in a row: taken as the server's problem)"
        for row, _member, refused in streak[:-1]:
            self._retry_or_fail(row, str(refused) + note)
        row, _member, refused = streak[-1]
        self._stop(row, refused, str(refused) + note)

    def record_refusals(self) -> None:
        """Record the refusals held back as hard bounces: each row's outcome and its bounce in one transaction."""
        held, self.refused = self.refused, []
        for row, member, refused in held:
            error = str(refused)
            written = db.session.execute(
                update(OutboundEmail).where(OutboundEmail.id == row.id, OutboundEmail.status == "sending",
                                            OutboundEmail.attempts == row.attempts)
                .values(status="failed", last_error=error, updated_at=clock.now())
                .execution_options(synchronize_session=False)).rowcount
            if written:
                db.session.refresh(member, with_for_update=True)  # bounces recorded at once add up
                bounces.record_bounce(member, "hard", error, row.id)
                self.tally["failed"] += 1
            db.session.commit()

    def _stop(self, row: OutboundEmail, refused: Refusal, error: str) -> None:
        """Record a refusal about us on the row, tell the coordinators, and stop the job (DeliveryStopped)."""
        for earlier, _member, earlier_refusal in self.refused:  # no longer known to be about their recipients
            self._retry_or_fail(earlier, str(earlier_refusal))
        self.refused = []
        when = self._retry_or_fail(row, error) or retry.backoff(row.attempts)
        audit.record(None, "delivery.stopped", "outbound_email", row.id, community_id=row.community_id,
                     reply=str(refused), stage=refused.stage, retry_at=when.isoformat())
        db.session.commit()
        current_app.logger.warning("delivery stopped: %s (outbox row %s)", error, row.id)
        raise DeliveryStopped(when)

    def _retry_or_fail(self, row: OutboundEmail, error: str) -> datetime | None:
        """Schedule another attempt with backoff, or give up; the retry time, if any."""
        values = retry.outcome(row.attempts, error)
        self._finish(row, **values)
        when = values.get("next_attempt_at")
        if when is None:
            self.tally["failed"] += 1
        else:
            self.note_retry([row.id], when)
        return when

    def note_retry(self, ids: list[int], when: datetime) -> None:
        if ids:
            self.tally["retry"].setdefault(when, []).extend(ids)

    def _finish(self, row: OutboundEmail, **values) -> bool:
        """Record one row's outcome and commit it at once; False if the row is no longer ours (nothing written)."""
        values["updated_at"] = clock.now()
        written = self.outcomes.write(row.id, row.attempts, values)
        if db.session().in_transaction():  # end the batch's reads (and anything a template's extras read)
            db.session.commit()
        if not written:
            current_app.logger.warning("outbox row %s was claimed again by another job; %s not recorded",
                                       row.id, values.get("status"))
        return written
