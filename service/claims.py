"""The rows a delivery job holds: claimed (pending -> sending), read, renewed while it works, handed back.

A row is claimed with a conditional UPDATE, so two workers, a retried job
and the sweeper can all hold the same ids and each row is still sent once.
Every claim counts as an attempt, and the attempt number is the claim's
token: a row the sweeper released and another job claimed again has a
higher one, so nothing the first job writes later can overwrite it.
"""
import json
from datetime import datetime

from sqlalchemy import Text, cast, select, tuple_, update
from sqlalchemy.orm import defer
from sqlalchemy.orm.attributes import set_committed_value

from service.clock import now
from service.extensions import db
from service.mailer import is_pending_due
from service.models import Community, Member, OutboundEmail
from service.sql import one_of


def claim(ids: list[int]) -> dict[int, int]:
    """Mark the due pending rows among `ids` as sending; {id: attempt} of the rows we now hold."""
    moment = now()
    owned = (select(OutboundEmail.id).where(one_of(OutboundEmail.id, ids), is_pending_due(moment))
             .with_for_update(skip_locked=True))
    result = db.session.execute(
        update(OutboundEmail).where(OutboundEmail.id.in_(owned.scalar_subquery()))
        .values(status="sending", attempts=OutboundEmail.attempts + 1, updated_at=moment)
        .returning(OutboundEmail.id, OutboundEmail.attempts).execution_options(synchronize_session=False))
    claimed = dict(sorted(tuple(row) for row in result))
    db.session.commit()
    return claimed


def _held(held: dict[int, int]):
    """SQL condition: the row is still `sending` under the claim in `held` (id -> attempt)."""
    return tuple_(OutboundEmail.id, OutboundEmail.attempts).in_(list(held.items())) & \
        (OutboundEmail.status == "sending")


def renew(held: dict[int, int]) -> set[int]:
    """Renew the claim on the `held` rows still ours; their ids.

    A batch slower than MAIL_SENDING_TIMEOUT would otherwise see the sweeper
    take its rows and another job send them too.
    """
    result = db.session.execute(update(OutboundEmail).where(_held(held)).values(updated_at=now())
                                .returning(OutboundEmail.id).execution_options(synchronize_session=False))
    ours = set(result.scalars())
    db.session.commit()
    return ours


def hand_back(held: dict[int, int], when: datetime) -> list[int]:
    """Put held rows that were never tried back to pending until `when`, their claim not counted; their ids."""
    if not held:
        return []
    result = db.session.execute(
        update(OutboundEmail).where(_held(held))
        .values(status="pending", attempts=OutboundEmail.attempts - 1, next_attempt_at=when, updated_at=now())
        .returning(OutboundEmail.id).execution_options(synchronize_session=False))
    ids = sorted(result.scalars())
    db.session.commit()
    return ids


def postpone(ids: list[int], when: datetime) -> list[int]:
    """Make the pending rows among `ids` wait until `when` (a job stopped before it claimed them); their ids."""
    if not ids:
        return []
    result = db.session.execute(
        update(OutboundEmail).where(one_of(OutboundEmail.id, ids), OutboundEmail.status == "pending",
                                    OutboundEmail.next_attempt_at.is_(None) | (OutboundEmail.next_attempt_at < when))
        .values(next_attempt_at=when).returning(OutboundEmail.id).execution_options(synchronize_session=False))
    postponed = sorted(result.scalars())
    db.session.commit()
    return postponed


def load(held: dict[int, int]) -> list:
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
