"""A community's health figures per month, kept so pages read them instead of counting every month again."""
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Date, DateTime, ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db


class HealthMonth(db.Model):
    """One month of one community, as service/community_health.py counted it at `computed_at`."""
    __tablename__ = "health_month"
    __table_args__ = (UniqueConstraint("community_id", "month", name="uq_health_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    month: Mapped[date] = mapped_column(Date)            # its first day, in the community's zone
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    members: Mapped[int]
    invited: Mapped[int]
    answered: Mapped[int]
    counted: Mapped[int]
    attended: Mapped[int]
    feedback: Mapped[int]
    usefulness: Mapped[float | None]
    recommend: Mapped[float | None]
    practices: Mapped[int]
    replies: Mapped[int]
    active: Mapped[int]
    bounced: Mapped[int]
    unsubscribed: Mapped[int]


class FiguresStamp(db.Model):
    """How many times a community's counted rows changed: `version` goes up with every change to a row its health
    figures or what needs a person count (database triggers, migration 0011_perf_figures_stamp, on PostgreSQL
    and SQLite alike, so no write path can forget it). Written by the triggers only.

    A cache's key, not the community's data: no foreign key, not exported (community_data.INSTANCE_LEVEL), and
    a community without a row has not changed since the migration (version 0)."""
    __tablename__ = "figures_stamp"

    community_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class FiguresTouched(db.Model):
    """A community whose counted rows this transaction changed, on PostgreSQL: its stamp is raised when the
    transaction commits, and the note removed then (migration 0016_stampcommit). A note never outlives its
    transaction, so a session sees only its own; on SQLite, which raises stamps at once, the table stays empty."""
    __tablename__ = "figures_touched"

    xact: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    community_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


class FiguresKept(db.Model):
    """What was counted for a community at which stamp version: its recent months (kept in health_month) hold
    while the stamp is `months_version` and until `months_until`, when time alone changes them (an activity
    leaving the 60-day window, the month's end); `waiting` (what needs a person, by kind) while it is
    `waiting_version`. A table of its own, so a page keeping figures never waits for a writer's lock on the
    stamp."""
    __tablename__ = "figures_kept"

    community_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    months_version: Mapped[int | None] = mapped_column(BigInteger)
    months_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    waiting_version: Mapped[int | None] = mapped_column(BigInteger)
    waiting: Mapped[dict | None] = mapped_column(JSON)
