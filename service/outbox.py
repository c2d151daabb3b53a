"""Reading the outbox for the coordinator: which emails each coordinator may see."""
from sqlalchemy import Select, func, select

from service.extensions import db
from service.models import CommunityCoordinator, Coordinator, OutboundEmail

PAGE_SIZE = 50


def visible_outbox_query(coordinator: Coordinator) -> Select:
    """Outbox rows of the coordinator's communities (all rows for an admin), newest first."""
    query = select(OutboundEmail).order_by(OutboundEmail.id.desc())
    if not coordinator.is_admin:
        mine = select(CommunityCoordinator.community_id).where(
            CommunityCoordinator.coordinator_id == coordinator.id)
        query = query.where(OutboundEmail.community_id.in_(mine))
    return query


def filtered(coordinator: Coordinator, status: str | None = None, kind: str | None = None,
             community_id: int | None = None) -> Select:
    query = visible_outbox_query(coordinator)
    if status:
        query = query.where(OutboundEmail.status == status)
    if kind:
        query = query.where(OutboundEmail.kind == kind)
    if community_id:
        query = query.where(OutboundEmail.community_id == community_id)
    return query


def page(query: Select, number: int) -> tuple[list[OutboundEmail], bool]:
    """One page of rows, and whether another page follows."""
    rows = list(db.session.scalars(query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def status_counts(coordinator: Coordinator) -> dict[str, int]:
    base = visible_outbox_query(coordinator).order_by(None).subquery()
    return dict(db.session.execute(select(base.c.status, func.count()).group_by(base.c.status)).all())


def kinds(coordinator: Coordinator) -> list[str]:
    base = visible_outbox_query(coordinator).order_by(None).subquery()
    return list(db.session.scalars(select(base.c.kind).distinct().order_by(base.c.kind)))


def email_for(coordinator: Coordinator, email_id: int) -> OutboundEmail | None:
    return db.session.scalar(visible_outbox_query(coordinator).where(OutboundEmail.id == email_id))
