"""Communities of practice, the organizations in them and who coordinates them."""
from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.base import created_at_column

STAGES = ("forming", "defining", "managing", "sustaining")
CADENCES = ("weekly", "biweekly", "monthly")
# What a dashboard account may do in one community: a coordinator (the TTA program's staff) and a leader
# (a member who now runs it) everything in it; an observer (a coordinator who stepped back, kept on with
# the leaders' agreement) only look.
COMMUNITY_ROLES = ("coordinator", "leader", "observer")


class Community(db.Model):
    __tablename__ = "community"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="forming")
    digest_cadence: Mapped[str] = mapped_column(String(16), default="biweekly")
    # Minutes before each meeting that a reminder goes out (None: 24 h and 1 h), and hours after
    # it that attendees are asked for feedback.
    reminder_offsets: Mapped[list | None] = mapped_column(JSON)
    feedback_delay_hours: Mapped[int] = mapped_column(default=2, server_default="2")
    # Lesson digests: which lesson, on which local weekday (0 = Monday) and hour; off until enabled.
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id", ondelete="SET NULL"))
    digest_enabled: Mapped[bool] = mapped_column(default=False, server_default=false())
    digest_enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # no issue for earlier slots
    digest_weekday: Mapped[int] = mapped_column(default=1, server_default="1")
    digest_hour: Mapped[int] = mapped_column(default=9, server_default="9")
    # When the TTA coordinator handed the community to its leaders (None: not yet).
    stepped_back_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # An archived community sends nothing and is read-only until restored.
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Charter voting rules, in hundredths of a percent (service/charter_rules.py): the share of active members
    # who must answer a proposed charter, and the share of those answering who must approve it.
    charter_quorum: Mapped[int] = mapped_column(default=5000, server_default="5000")
    charter_approval: Mapped[int] = mapped_column(default=6667, server_default="6667")
    # Conversations by email: the community's address is `<slug>@INBOUND_DOMAIN` (given from the name when
    # it is created, service/conversations/addresses.py); where a reply to a post goes ("community": to
    # everyone, "author": to its author, reply-all to both); which posts wait for a moderator; the largest
    # attachment kept, in kilobytes.
    slug: Mapped[str | None] = mapped_column(String(64), unique=True)
    replies_to: Mapped[str] = mapped_column(String(10), default="community", server_default="community")
    moderation: Mapped[str] = mapped_column(String(8), default="new", server_default="new")
    attachment_limit_kb: Mapped[int] = mapped_column(default=2048, server_default="2048")
    created_at: Mapped[datetime] = created_at_column()

    coordinators: Mapped[list["CommunityCoordinator"]] = relationship(
        back_populates="community", cascade="all, delete-orphan")


class CommunityCoordinator(db.Model):
    """Grants one coordinator access to one community."""
    __tablename__ = "community_coordinator"
    __table_args__ = (UniqueConstraint("community_id", "coordinator_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"), index=True)
    coordinator_id: Mapped[int] = mapped_column(ForeignKey("coordinator.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="coordinator", server_default="coordinator")

    community: Mapped[Community] = relationship(back_populates="coordinators")


class Organization(db.Model):
    """A community-based organization; its people may belong to several communities."""
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # Lower-cased name, so "Casa Verde" and "casa verde" are one organization.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    contact_email: Mapped[str | None] = mapped_column(String(254))
    # The member who receives the organization's edition of the digest.
    contact_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL",
                                                                     use_alter=True))
    created_at: Mapped[datetime] = created_at_column()
