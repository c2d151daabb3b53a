"""The Outbox's count of emails by status without reading every row at every look.

Emails still on their way or refused (pending, sending, failed, suppressed) are few and counted each time through
the status index; "sent" is what remains of each community's total, and a community's total changes only when a
row is added or removed, which raises its figures stamp (migration 0015_lstpage). So each total is kept per
community at its stamp and counted again only after such a change, in the statement that reads the stamp (the
total and its version come from one snapshot). Emails that belong to no community are few and counted each time.
Whether delivery is stopped is read in the same statement as the emails under way.
"""
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import Select, bindparam, func, literal, select

from service.extensions import db
from service.figures_stamp import committed_versions, session_version
from service.kept import Kept
from service.outbox import count as count_matching, delivery_problem_id
from service.models import AuditEvent, Community, Coordinator, OutboundEmail
from service.models.outbox import OUTBOX_STATUSES

UNDER_WAY = tuple(status for status in OUTBOX_STATUSES if status != "sent")
_TOTALS = Kept(4096)  # (community, version) pairs per process


@dataclass
class OutboxFigures:
    counts: dict[str, int]       # emails at each status, those at 0 left out
    problem: AuditEvent | None   # delivery stopped by the mail server (service.outbox.delivery_problem_id)


def figures(coordinator: Coordinator, visible: list[tuple[Community, int]]) -> OutboxFigures:
    """How many of the coordinator's emails (every email for an admin) are at each status, and whether delivery is
    stopped, in one statement; `visible` are the communities the coordinator sees
    (service.communities.visible_communities_query) with their stamps, read before this is called
    (service.figures_stamp.with_versions)."""
    # A total is kept under its community's creation time too: an id and a version may come again after the
    # database was emptied or restored, never with the same creation time.
    keys = {community.id: (community.id, community.created_at, version) for community, version in visible}
    communities = list(keys)
    totals = {}
    for community_id in communities:
        total = _TOTALS.get(keys[community_id])
        if total is not None:
            totals[community_id] = total
    missing = [community_id for community_id in communities if community_id not in totals]
    if missing:
        totals.update(_count_totals(missing))
    *under_way, unowned, problem_id = db.session.execute(_under_way(coordinator.is_admin),
                                                          {"communities": communities}).one()
    counts = dict(zip(UNDER_WAY, under_way))
    counts["sent"] = sum(totals.values()) + unowned - sum(counts.values())
    problem = db.session.get(AuditEvent, problem_id) if problem_id is not None else None
    return OutboxFigures({status: count for status, count in counts.items() if count}, problem)


@lru_cache(maxsize=2)
def _under_way(admin: bool) -> Select:
    """The statement of the emails under way by status, those that belong to no community (counted for an admin
    only) and whether delivery is stopped; built once (its communities are a parameter), since building it cost
    more than running it."""
    communities = bindparam("communities", expanding=True)
    theirs = OutboundEmail.community_id.in_(communities)
    if admin:
        theirs = theirs | OutboundEmail.community_id.is_(None)
    none_total = (select(func.count()).where(OutboundEmail.community_id.is_(None)).scalar_subquery()
                  if admin else literal(0))
    return select(*(func.count().filter(OutboundEmail.status == status) for status in UNDER_WAY), none_total,
                  delivery_problem_id(admin, communities)).where(OutboundEmail.status.in_(UNDER_WAY), theirs)


def matching(figures: OutboxFigures, query: Select, status: str | None, narrowed_further: bool) -> int:
    """How many emails `query` (service.outbox.filtered) finds, exact: read from the counts by status when at most
    a status narrows it, counted when a kind, a community or a search does."""
    if narrowed_further:
        return count_matching(query)
    return figures.counts.get(status, 0) if status else sum(figures.counts.values())


def _count_totals(community_ids: list[int]) -> dict[int, int]:
    """Each community's number of emails, counted with its stamp in one statement, and kept at that stamp when
    everyone sees it (not a change of this session's own, not yet committed)."""
    total = (select(func.count()).where(OutboundEmail.community_id == Community.id)
             .correlate(Community).scalar_subquery())
    rows = db.session.execute(select(Community.id, Community.created_at, session_version(Community.id), total).where(
        Community.id.in_(community_ids))).all()
    committed = committed_versions([community_id for community_id, _created, _seen, _count in rows])
    for community_id, created_at, seen, count in rows:
        if committed[community_id] == seen:
            _TOTALS.keep((community_id, created_at, seen), count)
    return {community_id: count for community_id, _created, _seen, count in rows}
