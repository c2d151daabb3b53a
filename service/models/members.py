"""Members (people who take part by email) and their memberships in communities.

A person's data is scoped. `Member` is the person: one address, one language
and one set of email preferences across every community, plus the name they
go by themselves. `Membership` holds what one community knows of them: the
name its coordinator knows them by, their organization there and the language
its mail uses for them, used on that community's pages and in its mail (service/members.py decides who may change
which).
"""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.base import created_at_column
from service.models.communities import Community, Organization

LANGUAGES = ("en", "es")
DIGEST_FREQUENCIES = ("weekly", "biweekly", "monthly", "never")
MEMBER_STATUSES = ("active", "unsubscribed", "bounced")
ROLES = ("member", "facilitator", "leader")
MEMBERSHIP_STATUSES = ("active", "inactive")


class Member(db.Model):
    __tablename__ = "member"
    # The few members mail does not reach, per community, for the dashboard (service/community_health.py).
    __table_args__ = (Index("ix_member_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    name: Mapped[str] = mapped_column(String(200))  # the person's own name, not any one community's
    language: Mapped[str] = mapped_column(String(5), default="en")
    digest_frequency: Mapped[str] = mapped_column(String(16), default="weekly")
    status: Mapped[str] = mapped_column(String(16), default="active")
    paused: Mapped[bool] = mapped_column(default=False, server_default=false())  # "pause all": no mail until unpaused
    # Bounce score with decay (service/bounces.py); over the threshold the member is suppressed.
    bounce_score: Mapped[float] = mapped_column(default=0.0, server_default="0")
    bounce_scored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()


class Membership(db.Model):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("community_id", "member_id"),
        Index("ix_membership_community_status", "community_id", "status"),  # counted per community
        # The members list's pages by name, and the community page's first members (active first), read in
        # order from the index instead of sorting every member (service/member_list.py).
        Index("ix_membership_community_name", "community_id", text("lower(name)"), "id"),
        Index("ix_membership_community_status_name", "community_id", "status", text("lower(name)"), "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    # The name this community knows the person by, their organization here and the language its mail
    # uses for them: its pages and mail use these.
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5))
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="SET NULL"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="member")
    status: Mapped[str] = mapped_column(String(16), default="active")
    # In the rotation that assigns meetings' facilitators round-robin.
    willing_to_facilitate: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Next lesson module this member reads (the drip advances per digest they receive).
    next_module: Mapped[int] = mapped_column(default=0, server_default="0")
    last_digest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The community's conversations: "every" message by email, in the "digest", or "none"
    # (models/conversations.py); and whether a moderator approved this member's posts once, so they no longer
    # wait under the "new" moderation mode.
    conversations: Mapped[str] = mapped_column(String(8), default="every", server_default="every")
    posts_approved: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Up to when this member's digests have carried the conversations (on "digest"): the next one starts there.
    conversations_digest_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()

    community: Mapped[Community] = relationship()
    member: Mapped[Member] = relationship()
    organization: Mapped[Organization | None] = relationship()
