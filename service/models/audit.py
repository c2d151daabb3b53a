"""Audit trail: who did what to which object, and when."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.base import created_at_column


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    # When members bounced or unsubscribed, month by month (service/community_health.py).
    __table_args__ = (Index("ix_audit_event_action_created", "action", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
    coordinator_id: Mapped[int | None] = mapped_column(
        ForeignKey("coordinator.id", ondelete="SET NULL"), index=True)
    actor: Mapped[str] = mapped_column(String(254))  # who, kept even if the account goes
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int | None]
    community_id: Mapped[int | None] = mapped_column(
        ForeignKey("community.id", ondelete="SET NULL"), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
