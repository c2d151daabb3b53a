"""The outbox: the one way to send email.

`queue_email` and `queue_bulk` add rows inside the caller's transaction; the
delivery jobs are enqueued only after that transaction commits. A row's
idempotency key is unique, so a retried request, a double click or a second
tick queues nothing new. Suppressed recipients get a row with status
`suppressed` and the reason, so the coordinator sees why nothing went.
"""
import json
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, text

from service.clock import now
from service.config import PROJECT_ROOT
from service.extensions import db
from service.models import Community, Member, OutboundEmail, Suppression
from service.queue import enqueue_after_commit, gathered
from service.sql import dialect_insert, on_postgresql, one_of

TEMPLATE_DIR = PROJECT_ROOT / "email_templates"
MIN_DELIVERY_JOBS = 4
MIN_JOB_SIZE = 100
INSERT_CHUNK = 5000  # rows per INSERT on PostgreSQL
DELIVERY_JOB = "jobs.delivery.deliver"


@dataclass(frozen=True)
class EmailKind:
    """What every email of one kind shares: its templates and its headers' rules."""
    name: str
    automatic: bool = True    # Auto-Submitted: auto-generated
    bulk: bool = False        # community mail: List-Unsubscribe and List-Unsubscribe-Post
    # Dotted path of a function (row, member, community) -> dict that adds what the templates
    # need at send time; a "calendar" entry (ics text, method) adds an iCalendar part.
    extras: str | None = None
    template: str | None = None  # templates of another kind (a staff test copy reuses the real one)
    staff_copy: bool = False     # rendered as a member would get it, sent to a coordinator's address
    reply: bool = False          # answers a member's email: Auto-Submitted: auto-replied, threaded under it
    # To a coordinator about their account (no member, no community, no unsubscribe): `extras` (row) -> dict
    # gives the templates what they need, and the "language" to render in.
    to_coordinator: bool = False
    # A member's post to a community's conversations: from "Name via Community", replies to the community's
    # address, threaded by the post's own Message-ID (service/conversations/delivery.py).
    conversation: bool = False

    @property
    def templates(self) -> str:
        return self.template or self.name


MEETING_EXTRAS = "service.meeting_emails.email_extras"
FORM_EXTRAS = "service.form_requests.email_extras"
DIGEST_EXTRAS = "service.digests.email_extras"
REPLY_EXTRAS = "service.inbound.confirmations.email_extras"
# Every kind of email, here and nowhere else: a kind exists whether or not the module that sends it was imported.
# `bulk` is community mail a member can stop (RFC 8058 one-click); welcome and test_message are not.
KINDS = {kind.name: kind for kind in (
    EmailKind("welcome"),
    EmailKind("announcement", automatic=False, bulk=True),
    EmailKind("announcement_test", template="announcement", staff_copy=True),
    EmailKind("test_message"),
    EmailKind("check_in", automatic=False, bulk=True),
    EmailKind("conversation_post", automatic=False, bulk=True, conversation=True),  # a coordinator's personal note to a member gone quiet
    EmailKind("meeting_invitation", bulk=True, extras=MEETING_EXTRAS),
    EmailKind("meeting_update", bulk=True, extras=MEETING_EXTRAS),
    EmailKind("meeting_cancelled", bulk=True, extras=MEETING_EXTRAS),
    EmailKind("meeting_reminder", bulk=True, extras=MEETING_EXTRAS),
    EmailKind("feedback_request", bulk=True, extras=MEETING_EXTRAS),
    # A recurring series invited as a whole: one recurring calendar event (service.meeting_series).
    *(EmailKind(name, bulk=True, extras="service.meeting_series.email_extras")
      for name in ("series_invitation", "series_update", "series_cancelled")),
    EmailKind("facilitator_assigned", bulk=True, extras="service.facilitation.email_extras"),
    EmailKind("form_request", bulk=True, extras=FORM_EXTRAS),
    EmailKind("form_reminder", bulk=True, extras=FORM_EXTRAS),
    *(EmailKind(name, bulk=True, extras="service.charters.email_extras")
      for name in ("charter_proposal", "charter_reminder", "charter_ratified")),
    EmailKind("digest", bulk=True, extras=DIGEST_EXTRAS),
    EmailKind("digest_organization", bulk=True, extras=DIGEST_EXTRAS),
    EmailKind("digest_test", extras=DIGEST_EXTRAS, template="digest", staff_copy=True),
    # To members on "digest" whose lesson digest will not carry the conversations: once a day when there are new ones.
    EmailKind("conversation_digest", bulk=True, extras="service.conversations.digest.email_extras"),
    *(EmailKind(name, reply=True, extras=REPLY_EXTRAS)
      for name in ("reply_rsvp", "reply_charter", "reply_practice", "reply_comment", "reply_unclear")),
    EmailKind("reply_facilitation", reply=True, extras="service.facilitation.reply_extras"),
    # A post that waits for a moderator: its author is told, and told the reason if it is declined (threaded under
    # the post they sent); each moderator gets it with a signed address to answer "approve" or "decline <reason>".
    EmailKind("post_waiting", reply=True),
    EmailKind("post_declined", reply=True, automatic=False),
    EmailKind("post_moderation", extras="service.conversations.moderation.moderator_extras", to_coordinator=True),
    EmailKind("reply_conversations", reply=True),  # a conversation command's confirmation (inbound/conversation_commands)
    # A member's post not posted for its attachments (too large, or a program), answered like a reply.
    EmailKind("post_attachment_refused", reply=True, extras="service.conversations.attachments.refusal_extras"),
    EmailKind("password_reset", extras="service.password_reset.email_extras", to_coordinator=True),
    EmailKind("health_summary", extras="service.health_summaries.email_extras", to_coordinator=True),
    EmailKind("needs_summary", extras="service.needs_you.email_extras", to_coordinator=True),
    # To someone who filled in a public interest form (not yet a member: no unsubscribe), addressed like an account.
    EmailKind("intake_received", extras="service.intake.received_extras", to_coordinator=True),
    # To someone not a member who wrote to a community's address (service.conversations.refusals): once a day.
    EmailKind("post_not_member", extras="service.conversations.refusals.email_extras", to_coordinator=True),
    # A role in a community (service.roles): with a link to choose a password, or, for an account that has one,
    # to log in; and to its leaders, that the TTA coordinator handed it to them.
    EmailKind("coordinator_invitation", extras="service.roles.invitation_extras", to_coordinator=True),
    EmailKind("role_granted", extras="service.roles.invitation_extras", to_coordinator=True),
    EmailKind("community_handed_over", extras="service.roles.invitation_extras", to_coordinator=True),
    # That an account's role in a community changed (with the link to log in or, not yet used, to choose a
    # password), or ended.
    EmailKind("role_changed", extras="service.roles.invitation_extras", to_coordinator=True),
    EmailKind("role_removed", extras="service.roles.invitation_extras", template="role_changed",
              to_coordinator=True),
)}


def kind_named(name: str) -> EmailKind:
    """The registered kind, or ValueError: an email without templates can never be queued."""
    kind = KINDS.get(name)
    if kind is None or not _has_templates(kind.templates):
        raise ValueError(f"unknown email kind {name!r}")
    return kind


@lru_cache(maxsize=None)
def _has_templates(templates: str) -> bool:
    """Looked up once per process: every message a worker renders asks again (a file check each time)."""
    return Path(TEMPLATE_DIR, f"{templates}.txt").exists()


def staff_copy(kind: str, member: Member, to_address: str, key: str, context: dict,
               community: Community | None = None) -> int:
    """Queue a copy of what `member` would receive, addressed to a coordinator (a test send)."""
    if not kind_named(kind).staff_copy:
        raise ValueError(f"{kind!r} is not a staff copy kind")
    return _queue_one({"kind": kind, "member_id": member.id, "recipient": to_address, "context": context,
                       "idempotency_key": key}, community)


def queue_coordinator_email(kind: str, coordinator, key: str, context: dict,
                            community: Community | None = None) -> int:
    """Queue an email to a coordinator's own address (never suppressed: it is their work), about their account
    or, with `community`, about a community they run (it then shows on that community's outbox)."""
    if not kind_named(kind).to_coordinator:
        raise ValueError(f"{kind!r} is not an email to a coordinator")
    return _queue_one({"kind": kind, "member_id": None, "recipient": coordinator.email, "context": context,
                       "idempotency_key": key}, community)


def _queue_one(row: dict, community: Community | None) -> int:
    """Insert one row to a staff address (pending, or suppressed when its community is archived); 1 if new."""
    archived = community is not None and community.archived_at is not None
    new = _insert_new([{**row, "community_id": community.id if community else None, "attempts": 0,
                        "status": "suppressed" if archived else "pending", "last_error": ARCHIVED if archived else None}])
    for row_id, status in new:
        if status == "pending":
            enqueue_after_commit(DELIVERY_JOB, [row_id])
    return len(new)


# Why nothing of an archived community's mail goes out (the outbox row says it).
ARCHIVED = "community archived"


def row_suppression(row: OutboundEmail, member: Member, suppressed: dict[str, str],
                    community: Community | None = None) -> str | None:
    """Why this row must not be sent: its community archived, its member's state, or for a staff copy its own
    address. Checked again at delivery, for what was queued before the community was archived."""
    if community is not None and community.archived_at is not None:
        return ARCHIVED
    if KINDS[row.kind].staff_copy:
        return suppressed.get(row.recipient)
    return suppression_reason(member, suppressed)


def suppression_reason(member: Member, suppressed: dict[str, str], community: Community | None = None) -> str | None:
    """Why this member must not be mailed now (by this community, if given), or None. `suppressed` maps address
    to reason."""
    if community is not None and community.archived_at is not None:
        return ARCHIVED
    if member.status != "active":
        return member.status
    if member.paused:
        return "paused"
    return suppressed.get(member.email)


def suppressed_addresses(addresses: Iterable[str]) -> dict[str, str]:
    """The suppressed ones among `addresses`, each with its reason."""
    addresses = list(addresses)
    found = {}
    for start in range(0, len(addresses), 1000):
        chunk = addresses[start:start + 1000]
        found.update(db.session.execute(
            select(Suppression.address, Suppression.reason).where(one_of(Suppression.address, chunk))).all())
    return found


def suppress(address: str, reason: str) -> None:
    """Stop all mail to `address`, for `reason`; an address suppressed already keeps its first reason. One
    statement (INSERT ... ON CONFLICT DO NOTHING), not a query and then an insert."""
    db.session.execute(dialect_insert(Suppression).values(address=address, reason=reason)
                       .on_conflict_do_nothing(index_elements=["address"]))


def queue_email(kind: str, member: Member, key: str, context: dict | None = None,
                community: Community | None = None) -> int:
    """Queue one email; returns how many new rows were added (0 if the key was used before)."""
    return queue_bulk(kind, [member], lambda m: key, lambda m: context or {}, community)


def queue_bulk(kind: str, members: Iterable[Member], key_for: Callable[[Member], str],
               context_for: Callable[[Member], dict], community: Community | None = None) -> int:
    """Queue one email per member in one statement; returns how many new rows were added."""
    kind_named(kind)
    members = list(members)
    if not members:
        return 0
    suppressed = suppressed_addresses(m.email for m in members)
    rows = []
    for member in members:
        reason = suppression_reason(member, suppressed, community)
        rows.append({
            "kind": kind, "member_id": member.id, "recipient": member.email,
            "community_id": community.id if community else None,
            "idempotency_key": key_for(member), "context": context_for(member),
            "status": "suppressed" if reason else "pending", "last_error": reason,
            "attempts": 0,
        })
    new = _insert_new(rows)
    pending = [row_id for row_id, status in new if status == "pending"]
    for batch in delivery_batches(pending):
        enqueue_after_commit(DELIVERY_JOB, batch)
    return len(new)


def _insert_new(rows: list[dict]) -> list[tuple[int, str]]:
    """Insert rows whose key is new, skipping the others without error; (id, status) of those added."""
    if on_postgresql():
        return _insert_new_postgresql(rows)
    added = []
    for start in range(0, len(rows), 1000):
        statement = (dialect_insert(OutboundEmail).on_conflict_do_nothing(index_elements=["idempotency_key"])
                     .returning(OutboundEmail.id, OutboundEmail.status))
        added.extend(db.session.execute(statement, rows[start:start + 1000]).all())
    return [(row_id, status) for row_id, status in added]


# One array per column, a row's values at the same position in each; `context_number` points into `contexts`.
_NEW_ROW_ARRAYS = ("kind", "community_id", "member_id", "recipient", "idempotency_key", "status", "last_error",
                   "attempts")
_INSERT_FROM_ARRAYS = text("""
    INSERT INTO outbound_email (kind, community_id, member_id, recipient, idempotency_key, status, last_error,
                                attempts, context, created_at, updated_at)
    SELECT new_row.kind, new_row.community_id, new_row.member_id, new_row.recipient, new_row.idempotency_key,
           new_row.status, new_row.last_error, new_row.attempts, shared.context,
           CAST(:now AS timestamptz), CAST(:now AS timestamptz)
    FROM unnest(CAST(:kind AS text[]), CAST(:community_id AS integer[]), CAST(:member_id AS integer[]),
                CAST(:recipient AS text[]), CAST(:idempotency_key AS text[]), CAST(:status AS text[]),
                CAST(:last_error AS text[]), CAST(:attempts AS integer[]), CAST(:context_number AS integer[]))
         WITH ORDINALITY AS new_row(kind, community_id, member_id, recipient, idempotency_key, status, last_error,
                                    attempts, context_number, position)
    JOIN unnest(CAST(:contexts AS json[])) WITH ORDINALITY AS shared(context, number)
      ON shared.number = new_row.context_number
    ORDER BY new_row.position
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, status""")


def _insert_new_postgresql(rows: list[dict]) -> list[tuple[int, str]]:
    """_insert_new as one INSERT ... SELECT FROM unnest(arrays) per INSERT_CHUNK rows.

    A multi-row VALUES statement carries eleven placeholders per row, and
    parsing them cost the driver more than the database spent inserting: a
    fan-out to 10,000 members took 2.5 s in the coordinator's request. Arrays
    are ten parameters however many rows, and each distinct context (an
    announcement's text is one for all) is serialised and sent once, the rows
    pointing at it by number. The ids follow the order of `rows`.
    """
    added = []
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        values = {name: [row[name] for row in chunk] for name in _NEW_ROW_ARRAYS}
        numbers: dict[int, int] = {}  # id(context) -> its number (1-based); the contexts live in `chunk` meanwhile
        contexts = []
        for row in chunk:
            if id(row["context"]) not in numbers:
                contexts.append(json.dumps(row["context"]))
                numbers[id(row["context"])] = len(contexts)
        values["context_number"] = [numbers[id(row["context"])] for row in chunk]
        added.extend(db.session.execute(_INSERT_FROM_ARRAYS, {**values, "contexts": contexts, "now": now()}).all())
    return [(row_id, status) for row_id, status in added]


def retry_failed(email_ids: Iterable[int]) -> int:
    """Put failed rows back to pending and enqueue them; returns how many."""
    rows = list(db.session.scalars(select(OutboundEmail).where(
        OutboundEmail.id.in_(list(email_ids)), OutboundEmail.status == "failed")))
    for row in rows:
        row.status, row.next_attempt_at, row.attempts = "pending", None, 0
    ids = [row.id for row in rows]
    for batch in delivery_batches(ids):
        enqueue_after_commit(DELIVERY_JOB, batch)
    return len(ids)


def delivery_batches(ids: list[int]) -> list[list[int]]:
    """The ids cut into delivery jobs.

    Large fan-outs go in jobs of MAIL_BATCH_SIZE (forking a work-horse costs
    tens of milliseconds of CPU here, so fewer, bigger jobs deliver more per
    second); a fan-out of a few hundred is still cut into MIN_DELIVERY_JOBS
    jobs of at least MIN_JOB_SIZE, so several workers share it.
    """
    largest = current_app.config["MAIL_BATCH_SIZE"]
    size = min(largest, max(MIN_JOB_SIZE, -(-len(ids) // MIN_DELIVERY_JOBS)))
    return [ids[start:start + size] for start in range(0, len(ids), size)]


@contextmanager
def deliveries_gathered():
    """Within the block, what each commit queues waits for the block's end, and goes out in the fewest delivery
    jobs (delivery_batches) rather than a job per commit.

    For a job that commits once per item, such as inbound processing
    confirming each reply in its own transaction: a delivery job per
    confirmation cost a work-horse and an SMTP connection per email
    (bench/inbound.py). A process that dies inside the block leaves the
    rows pending for the sweeper, each still sent once.
    """
    with gathered(DELIVERY_JOB, delivery_batches):
        yield


def is_pending_due(now) -> object:
    """SQL condition: a pending row whose next attempt is due."""
    return (OutboundEmail.status == "pending") & or_(
        OutboundEmail.next_attempt_at.is_(None), OutboundEmail.next_attempt_at <= now)
