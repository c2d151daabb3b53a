"""Whether figures counted earlier still hold, so pages count only what changed.

Database triggers (migration 0011_perf_figures_stamp) raise a community's
figures_stamp version with every change to a row its health figures or what
needs a person count, or that the community page and the members list show
(0015_lstpage: those pages are kept whole per stamp, service/views/kept_pages.py);
figures_kept says at which version each was counted.
Kept figures hold while the versions agree (and, for the health months,
until time alone would move them).

A version is kept only when the session sees the same one as everyone else
(read on a connection of its own): figures counted with a change of its own
not yet committed are not kept, since a rollback would leave them counting
what never happened. On SQLite such a session sees its own raised stamp. On
PostgreSQL stamps rise only at commit (migration 0016_stampcommit, so
members writing to the same community never wait on each other), and the
change is a note in figures_touched that only its own session sees: there
the session sees the stamp as CHANGED_HERE, at which nothing is ever kept.
"""
from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, exists, func, select

from service import clock
from service.extensions import db
from service.models import Community, FiguresKept, FiguresStamp, FiguresTouched
from service.sql import dialect_insert, one_of


class Stamps:
    """The stamps and kept figures of some communities, read once in one statement."""

    def __init__(self, community_ids: list[int], moment: datetime):
        self.moment = moment
        self._ids = community_ids
        self.kept = {row.community_id: row for row in db.session.execute(
            select(FiguresKept.community_id, FiguresKept.months_version, FiguresKept.months_until,
                   FiguresKept.waiting_version, FiguresKept.waiting,
                   session_version(FiguresKept.community_id).label("version"))
            .where(one_of(FiguresKept.community_id, community_ids)))}
        self._versions: tuple[dict[int, int], dict[int, int]] | None = None

    def months_hold(self, community_id: int) -> bool:
        """Whether the community's kept recent months are its figures at `moment`."""
        row = self.kept.get(community_id)
        return bool(row and row.months_version == row.version and row.months_until is not None
                    and self.moment < clock.aware(row.months_until))

    def waiting(self, community_id: int) -> dict[str, int] | None:
        """What needs a person there, by kind, as kept, or None when it must be counted again."""
        row = self.kept.get(community_id)
        return row.waiting if row and row.waiting is not None and row.waiting_version == row.version else None

    def keepable(self, community_id: int) -> int | None:
        """The version to keep figures counted now at, or None when this session's own changes are in them."""
        if self._versions is None:
            seen = dict(db.session.execute(select(Community.id, session_version(Community.id)).where(
                Community.id.in_(self._ids))).all())
            self._versions = seen, committed_versions(self._ids)
        seen, committed = self._versions
        version = seen.get(community_id, 0)
        return version if committed[community_id] == version else None

    def keep_months(self, connection, community_id: int, version: int, until: datetime) -> None:
        """Mark the recent months just kept (on `connection`, in their transaction) as holding."""
        _upsert(connection, community_id, months_version=version, months_until=until)

    def keep_waiting(self, counts: dict[int, dict[str, int]]) -> None:
        """Keep what needs a person in these communities, each at its version when keepable."""
        rows = [(community_id, version, found) for community_id, found in counts.items()
                if (version := self.keepable(community_id)) is not None]
        if rows:
            with db.engine.begin() as connection:
                for community_id, version, found in rows:
                    _upsert(connection, community_id, waiting_version=version, waiting=found)


def _upsert(connection, community_id: int, **values) -> None:
    statement = dialect_insert(FiguresKept).values(community_id=community_id, **values)
    connection.execute(statement.on_conflict_do_update(index_elements=["community_id"], set_=values))


CHANGED_HERE = -1  # the stamp a session sees where it changed counted rows not yet committed (PostgreSQL)


def session_version(community_id) -> ColumnElement[int]:
    """SQL: the community's stamp as this session sees it: 0 before its first change, CHANGED_HERE where this
    session has a change of its own waiting for its commit to raise the stamp."""
    stamp = select(FiguresStamp.version).where(FiguresStamp.community_id == community_id).scalar_subquery()
    changed_here = exists().where(FiguresTouched.community_id == community_id)
    return case((changed_here, CHANGED_HERE), else_=func.coalesce(stamp, 0))


def with_versions(query: Select) -> Select:
    """`query` over communities with each one's stamp beside it, as this session sees it."""
    return query.add_columns(session_version(Community.id))


def seen_version(community_id: int) -> int:
    """The community's stamp as this session sees it."""
    return db.session.scalar(select(session_version(community_id)))


def committed_versions(community_ids: list[int]) -> dict[int, int]:
    """The communities' stamps as everyone else sees them (on a connection of its own): what this session counted
    is keepable at its seen version only when the two agree."""
    with db.engine.connect() as connection:
        found = dict(connection.execute(select(FiguresStamp.community_id, FiguresStamp.version).where(
            FiguresStamp.community_id.in_(community_ids))).all())
    return {community_id: found.get(community_id, 0) for community_id in community_ids}
