"""Facilitation handed on: each time a meeting's facilitator passed it to the next member of the rotation."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from service.extensions import db
from service.models.base import created_at_column


class FacilitatorSwap(db.Model):
    """`from_member` handed `meeting` to `to_member` (by their link or a reply); they are not asked again for it."""
    __tablename__ = "facilitator_swap"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meeting.id", ondelete="CASCADE"), index=True)
    from_member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    to_member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    via: Mapped[str] = mapped_column(String(16))  # "link", "email" (a reply), or "rsvp" (they answered No)
    created_at: Mapped[datetime] = created_at_column()
