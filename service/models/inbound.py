"""Mail we received: every message is stored raw before anything reads it, then processed by a job."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.base import created_at_column

INBOUND_VIAS = ("mta", "smtp", "webhook", "imap", "sink", "test")
# "post": to a community's own address (service/conversations); "moderate": a moderator's answer to a waiting post.
INBOUND_PURPOSES = ("reply", "unsubscribe", "calendar", "bounce", "post", "moderate", "unknown")
# received: stored, waiting for its job. done: understood and recorded. held: not acted on because who sent it is
# in doubt (From is not the member, a key that does not verify). unclear: from the member, but not understood, or
# refused by the domain (a meeting that has started): a coordinator reads it. ignored: automatic mail, never
# answered. failed: processing raised; the raw message is kept and can be processed again.
INBOUND_STATUSES = ("received", "done", "held", "unclear", "ignored", "failed")


class InboundMessage(db.Model):
    __tablename__ = "inbound_message"
    __table_args__ = (Index("ix_inbound_message_community_status", "community_id", "status"),
                      Index("ix_inbound_message_status_received", "status", "received_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = created_at_column()
    via: Mapped[str] = mapped_column(String(16))
    envelope_to: Mapped[str] = mapped_column(String(254), default="")
    envelope_from: Mapped[str] = mapped_column(String(254), default="")
    # The header's Message-ID, or one made from the raw bytes' hash: the same message twice is stored once.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(default=0)
    from_address: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    purpose: Mapped[str] = mapped_column(String(16), default="unknown")
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16), default="received")
    outcome: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    object_kind: Mapped[str | None] = mapped_column(String(32))
    object_id: Mapped[int | None] = mapped_column()
    text: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(default=0)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("coordinator.id", ondelete="SET NULL"))
