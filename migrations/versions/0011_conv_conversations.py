"""Community conversations by email: each community's address, its moderation and attachment settings, each
membership's choice of conversation mail, and the conversations, posts, attachments and mutes

Revision ID: 0011_conv
Revises: 0010_needs
"""
from alembic import op
import sqlalchemy as sa

from service.conversations.addresses import MAX_SLUG, RESERVED, base_slug

revision = "0011_conv"
down_revision = "0010_needs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("community") as batch:
        batch.add_column(sa.Column("slug", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("replies_to", sa.String(length=10), nullable=False, server_default="community"))
        batch.add_column(sa.Column("moderation", sa.String(length=8), nullable=False, server_default="new"))
        batch.add_column(sa.Column("attachment_limit_kb", sa.Integer(), nullable=False, server_default="2048"))
    _give_existing_communities_slugs()
    with op.batch_alter_table("community") as batch:
        batch.create_unique_constraint("uq_community_slug", ["slug"])
    op.add_column("membership", sa.Column("conversations", sa.String(length=8), nullable=False,
                                          server_default="every"))
    op.add_column("membership", sa.Column("posts_approved", sa.Boolean(), nullable=False,
                                          server_default=sa.false()))
    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id", ondelete="CASCADE"), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("started_by_id", sa.Integer(), sa.ForeignKey("member.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_post_at", sa.DateTime(timezone=True)),
        sa.Column("post_count", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_conversation_community_last", "conversation", ["community_id", "last_post_at"])
    op.create_table(
        "post",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversation.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("member.id", ondelete="SET NULL")),
        sa.Column("inbound_message_id", sa.Integer(), sa.ForeignKey("inbound_message.id", ondelete="SET NULL"),
                  unique=True),
        sa.Column("message_id", sa.String(length=255), nullable=False, unique=True),
        sa.Column("original_message_id", sa.String(length=255)),
        sa.Column("in_reply_to_id", sa.Integer(), sa.ForeignKey("post.id", ondelete="SET NULL")),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("moderated_by_id", sa.Integer(), sa.ForeignKey("coordinator.id", ondelete="SET NULL")),
        sa.Column("moderated_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_post_conversation_id", "post", ["conversation_id"])
    op.create_index("ix_post_member_id", "post", ["member_id"])
    op.create_index("ix_post_original_message_id", "post", ["original_message_id"])
    op.create_index("ix_post_community_status", "post", ["community_id", "status"])
    op.create_table(
        "post_attachment",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("post_id", sa.Integer(), sa.ForeignKey("post.id", ondelete="CASCADE"), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_post_attachment_post_id", "post_attachment", ["post_id"])
    op.create_table(
        "conversation_mute",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("conversation_id", sa.Integer(), sa.ForeignKey("conversation.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("member.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("conversation_id", "member_id"),
    )
    op.create_index("ix_conversation_mute_member_id", "conversation_mute", ["member_id"])


def _give_existing_communities_slugs():
    """Each existing community its address, from its name, in the order they were made."""
    connection = op.get_bind()
    taken = set(RESERVED)
    for community_id, name in connection.execute(sa.text("SELECT id, name FROM community ORDER BY id")).all():
        base = base_slug(name)
        slug, number = base, 1
        while slug in taken:
            number += 1
            slug = f"{base[:MAX_SLUG - len(str(number)) - 1]}-{number}"
        taken.add(slug)
        connection.execute(sa.text("UPDATE community SET slug = :slug WHERE id = :id"),
                           {"slug": slug, "id": community_id})


def downgrade():
    op.drop_table("conversation_mute")
    op.drop_table("post_attachment")
    op.drop_table("post")
    op.drop_table("conversation")
    # Not in a batch: SQLite's batch mode copies the table and would lose its expression indexes (0009_lists).
    op.drop_column("membership", "posts_approved")
    op.drop_column("membership", "conversations")
    with op.batch_alter_table("community") as batch:
        batch.drop_constraint("uq_community_slug", type_="unique")
        batch.drop_column("attachment_limit_kb")
        batch.drop_column("moderation")
        batch.drop_column("replies_to")
        batch.drop_column("slug")
