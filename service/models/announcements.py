"""A coordinator's message to a community: sent at once, or kept until its time; who it reaches."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from service.clock import now
from service.extensions import db
from service.models.base import created_at_column

# A draft is what a preview was made from (its HTML part is shown from the row); it becomes the message sent.
ANNOUNCEMENT_STATUSES = ("draft", "scheduled", "sent", "cancelled")


class Announcement(db.Model):
    __tablename__ = "announcement"
    # The form's nonce: a double submit finds the announcement it already made.
    __table_args__ = (UniqueConstraint("community_id", "nonce"),
                      Index("ix_announcement_status_send_at", "status", "send_at"))  # the sweeper's due ones

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("coordinator.id", ondelete="SET NULL"))
    nonce: Mapped[str] = mapped_column(String(64))
    # The English text and the Spanish beside it (service.bilingual: either may be empty, not both).
    subject: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    subject_es: Mapped[str] = mapped_column(String(150), default="", server_default=text("''"))
    body_es: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    # Who it reaches among the active members: {"organization_ids": [...], "roles": [...], "languages": [...]};
    # an empty list means no filter on that.
    audience: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="sent")
    send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # UTC; None: sent when written
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recipients: Mapped[int | None]  # emails queued when it went
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=now, onupdate=now)
