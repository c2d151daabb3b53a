"""inbound_message: every message we receive, stored raw before it is processed; outbox Message-IDs indexed

Revision ID: 0007_core
Revises: 0006_a
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_core"
down_revision = "0006_a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("envelope_to", sa.String(length=254), nullable=False),
        sa.Column("envelope_from", sa.String(length=254), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("from_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("community_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("object_kind", sa.String(length=32), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["handled_by_id"], ["coordinator.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_inbound_message_member_id", "inbound_message", ["member_id"])
    op.create_index("ix_inbound_message_community_status", "inbound_message", ["community_id", "status"])
    op.create_index("ix_inbound_message_status_received", "inbound_message", ["status", "received_at"])
    op.create_index("ix_outbound_email_message_id", "outbound_email", ["message_id"])


def downgrade():
    op.drop_index("ix_outbound_email_message_id", table_name="outbound_email")
    op.drop_table("inbound_message")
