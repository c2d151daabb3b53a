"""Announcements kept as rows: scheduled ones wait for their time, each says whom it reaches

Revision ID: 0011_ann_a
Revises: 0012_cdigest
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_ann_a"
down_revision = "0012_cdigest"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_by_id", sa.Integer(), sa.ForeignKey("coordinator.id", ondelete="SET NULL")),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=150), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("send_at", sa.DateTime(timezone=True)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("recipients", sa.Integer()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("community_id", "nonce"),
    )
    op.create_index(op.f("ix_announcement_community_id"), "announcement", ["community_id"])
    op.create_index(op.f("ix_announcement_status_send_at"), "announcement", ["status", "send_at"])


def downgrade():
    op.drop_table("announcement")
