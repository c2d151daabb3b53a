"""A community's health figures per month, kept so pages read them instead of counting every month again."""
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, UniqueConstraint
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
    """Whether a community's kept recent months still hold: `version` goes up with every change to the rows its
    health figures count (database triggers, migration 0011_perf_figures_stamp, on PostgreSQL and SQLite alike,
    so no write path can forget it); `kept_version` is the version the kept months were counted at, and
    `kept_until` when time alone changes them (an activity leaving the 60-day window, the month's end).

    A cache's key, not the community's data: no foreign key, not exported (community_data.INSTANCE_LEVEL), and
    a community without a row has never changed since the migration (version 0)."""
    __tablename__ = "figures_stamp"

    community_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    kept_version: Mapped[int | None] = mapped_column(BigInteger)
    kept_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
