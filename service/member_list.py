"""A community's members as a list a coordinator can work with at 10,000 members.

Searched (name, email, organization), filtered (organization, role,
language, status), sorted and cut into pages in SQL: one COUNT and one
LIMIT/OFFSET query per page, whatever the community's size. The query
string is read leniently: a value that means nothing (an unknown sort, a
page past the end, an organization of another community) falls back to the
default instead of failing. The community page shows only a summary (counts
by status and the first rows) and links here.
"""
from dataclasses import dataclass, replace
from math import ceil

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import contains_eager

from service import normalize
from service.extensions import db
from service.models import Community, Member, Membership, Organization
from service.models.members import LANGUAGES, ROLES
from service.paging import Page
from service.sql import contains_text

PAGE_SIZE = 50
SUMMARY_ROWS = 10
SEARCH_MAX_LENGTH = 200
# What the list shows as a member's status: the membership's, then the person's mail status.
STATUSES = ("active", "paused", "unsubscribed", "bounced", "inactive")
SORTS = ("name", "organization", "joined")

STATUS = case((Membership.status == "inactive", "inactive"),
              (Member.status != "active", Member.status),
              (Member.paused.is_(True), "paused"),
              else_="active")
ORDER = {
    "name": (func.lower(Membership.name), Membership.id),
    "organization": (func.lower(Organization.name).nulls_last(), func.lower(Membership.name), Membership.id),
    "joined": (Membership.created_at.desc(), Membership.id.desc()),  # newest first
}


@dataclass(frozen=True)
class Criteria:
    """What the coordinator asked for; every field at its default means the whole list by name."""
    q: str = ""
    organization: int | None = None
    role: str = ""
    language: str = ""
    status: str = ""
    sort: str = "name"
    page: int = 1

    def args(self, **changes) -> dict:
        """Query-string arguments for a link to this list with `changes` (defaults left out, so links stay short)."""
        wanted = replace(self, **changes)
        return {name: value for name, value in vars(wanted).items() if value != getattr(DEFAULT, name)}

    @property
    def narrowed(self) -> bool:
        return bool(self.q or self.organization or self.role or self.language or self.status)


DEFAULT = Criteria()


def criteria_from(args, organization_ids: set[int]) -> Criteria:
    """The request's query string as Criteria; anything unknown or out of range is the default."""
    def one_of(name: str, allowed) -> str:
        value = args.get(name, "")
        return value if value in allowed else getattr(DEFAULT, name)

    organization = _whole_number(args.get("organization"))
    return Criteria(q=normalize.text(args.get("q"))[:SEARCH_MAX_LENGTH],
                    organization=organization if organization in organization_ids else None,
                    role=one_of("role", ROLES), language=one_of("language", LANGUAGES),
                    status=one_of("status", STATUSES), sort=one_of("sort", SORTS),
                    page=_whole_number(args.get("page")) or 1)


def _whole_number(value) -> int | None:
    try:
        return normalize.database_id(value)
    except (TypeError, ValueError):
        return None


def _rows(community: Community) -> Select:
    return (select(Membership, STATUS.label("shown_status"))
            .join(Member, Member.id == Membership.member_id)
            .outerjoin(Organization, Organization.id == Membership.organization_id)
            .where(Membership.community_id == community.id)
            .options(contains_eager(Membership.member), contains_eager(Membership.organization)))


def matching(community: Community, criteria: Criteria) -> Select:
    """The community's memberships that match, as (Membership, status) rows in the chosen order."""
    query = _rows(community)
    if criteria.q:
        query = query.where(contains_text(Membership.name, criteria.q) | contains_text(Member.email, criteria.q)
                            | contains_text(Organization.name, criteria.q))
    if criteria.status:
        query = query.where(STATUS == criteria.status)
    return _narrowed(query, criteria).order_by(*ORDER[criteria.sort])


def _narrowed(query: Select, criteria: Criteria) -> Select:
    """`query` with the criteria that read only the membership's own columns."""
    if criteria.organization:
        query = query.where(Membership.organization_id == criteria.organization)
    if criteria.role:
        query = query.where(Membership.role == criteria.role)
    if criteria.language:
        query = query.where(Membership.language == criteria.language)
    return query


def _total(community: Community, criteria: Criteria, query: Select) -> int:
    """How many rows `query` (matching's) has. Without a search or a status, the memberships' own columns
    answer: counted from their index alone, not joined to every member and organization (3.7 ms of the
    members list's 6 in SQL at 10,000 members)."""
    if criteria.q or criteria.status:
        return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    return db.session.scalar(_narrowed(select(func.count()).select_from(Membership).where(
        Membership.community_id == community.id), criteria))


def page(community: Community, criteria: Criteria) -> Page:
    """One page of the matching members; a page past the end shows the last one."""
    query = matching(community, criteria)
    total = _total(community, criteria, query)
    number = min(criteria.page, max(1, ceil(total / PAGE_SIZE)))
    rows = db.session.execute(query.offset((number - 1) * PAGE_SIZE).limit(PAGE_SIZE)).all()
    return Page([(membership, status) for membership, status in rows], total, replace(criteria, page=number), PAGE_SIZE)


def organizations_here(community: Community) -> list[tuple[int, str]]:
    """(id, name) of the organizations any member here belongs to, for the filter."""
    return db.session.execute(
        select(Organization.id, Organization.name).where(Organization.id.in_(
            select(Membership.organization_id).where(Membership.community_id == community.id)))
        .order_by(func.lower(Organization.name))).all()


@dataclass
class Summary:
    counts: dict[str, int]  # members per status
    rows: list[tuple[Membership, str]]  # the first ones: active members by name, then inactive ones

    statuses = STATUSES

    @property
    def not_receiving(self) -> int:
        """Active members whom mail does not reach (outbox.members_not_receiving lists the first ones)."""
        return sum(self.counts.get(status, 0) for status in ("unsubscribed", "bounced", "paused"))

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def summary(community: Community) -> Summary:
    """What the community page shows of its members: counts by status and the first rows."""
    base = _rows(community).subquery()
    counts = dict(db.session.execute(select(base.c.shown_status, func.count()).group_by(base.c.shown_status)).all())
    first = matching(community, DEFAULT).order_by(None).order_by(Membership.status, *ORDER["name"])  # active first
    rows = db.session.execute(first.limit(SUMMARY_ROWS)).all()
    return Summary(counts, [(membership, status) for membership, status in rows])
