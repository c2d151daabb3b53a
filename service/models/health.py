"""A community's health figures per month, kept so pages read them instead of counting every month again."""
from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, UniqueConstraint
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
