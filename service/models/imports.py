"""A member CSV import: validated rows waiting for confirmation, then progress."""
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.base import created_at_column

IMPORT_STATUSES = ("previewed", "queued", "running", "done", "failed")


class MemberImport(db.Model):
    __tablename__ = "member_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int | None] = mapped_column(ForeignKey("coordinator.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="previewed")
    total_rows: Mapped[int] = mapped_column(default=0)
    valid_rows: Mapped[list] = mapped_column(JSON, default=list)   # rows to import on confirm
    problems: Mapped[list] = mapped_column(JSON, default=list)     # [{"line": n, "email": .., "reasons": [..]}]
    processed: Mapped[int] = mapped_column(default=0)
    created_count: Mapped[int] = mapped_column(default=0)
    # Each member the import adds gets the welcome email (the coordinator's choice on confirming).
    send_welcome: Mapped[bool] = mapped_column(default=False, server_default=false())
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at_column()
