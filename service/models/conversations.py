"""Community conversations by email: threads of posts members write to their community's address.

A `Conversation` is one thread; a `Post` is one message in it, as the member
wrote it (quotes and signature trimmed, HTML sanitised) and as it was sent on
to the members who read every message. A post that waits for a moderator is
`waiting`; one a moderator refused is `declined`; only `published` posts are
delivered, shown in archives and digests.
"""
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from service.extensions import db
from service.models.base import created_at_column

# What a member receives of a community's conversations (Membership.conversations).
CONVERSATION_CHOICES = ("every", "digest", "none")
# Which posts wait for a moderator (Community.moderation): a new poster's until one is approved, every post,
# or none.
MODERATION_MODES = ("new", "all", "none")
POST_STATUSES = ("waiting", "published", "declined")
REPLIES_TO = ("community", "author")  # Community.replies_to


class Conversation(db.Model):
    __tablename__ = "conversation"
    __table_args__ = (Index("ix_conversation_community_last", "community_id", "last_post_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at_column()
    # When the latest published post arrived (None until one is published), and how many are published.
    last_post_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    post_count: Mapped[int] = mapped_column(default=0, server_default="0")

    posts: Mapped[list["Post"]] = relationship(back_populates="conversation", order_by="Post.id")


class Post(db.Model):
    __tablename__ = "post"
    __table_args__ = (Index("ix_post_community_status", "community_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"), index=True)
    inbound_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_message.id", ondelete="SET NULL"), unique=True)
    # The Message-ID every copy we send carries (one per post, so replies from any member find it), and the
    # Message-ID the author's own message had (their client threads replies under it).
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    original_message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    in_reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("post.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)             # the member's own words, plain text
    html: Mapped[str] = mapped_column(Text, default="")  # their HTML, sanitised ('' when they sent plain text)
    status: Mapped[str] = mapped_column(String(16), default="published")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it waits, or why a moderator declined it
    moderated_by_id: Mapped[int | None] = mapped_column(ForeignKey("coordinator.id", ondelete="SET NULL"))
    moderated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = created_at_column()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    conversation: Mapped[Conversation] = relationship(back_populates="posts")
    attachments: Mapped[list["PostAttachment"]] = relationship(back_populates="post", cascade="all, delete-orphan",
                                                               order_by="PostAttachment.id")


class PostAttachment(db.Model):
    """A file a member attached to a post, kept (up to the community's limit) and linked from the copies."""
    __tablename__ = "post_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column()
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = created_at_column()

    post: Mapped[Post] = relationship(back_populates="attachments")


class ConversationMute(db.Model):
    """A member who no longer wants a thread's posts (by link or by replying "mute")."""
    __tablename__ = "conversation_mute"
    __table_args__ = (UniqueConstraint("conversation_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = created_at_column()
