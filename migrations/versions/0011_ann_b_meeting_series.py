"""Recurring meetings: a series row, and each occurrence's meeting pointing at it with its rule's start

Revision ID: 0011_ann_b
Revises: 0011_ann_a
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_ann_b"
down_revision = "0011_ann_a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "meeting_series",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("community_id", sa.Integer(), sa.ForeignKey("community.id", ondelete="CASCADE"), nullable=False),
        sa.Column("uid", sa.String(length=255), nullable=False, unique=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.String(length=16), nullable=False),
        sa.Column("weekday_ordinal", sa.Integer()),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("until_day", sa.Date()),
        sa.Column("invitation", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(op.f("ix_meeting_series_community_id"), "meeting_series", ["community_id"])
    with op.batch_alter_table("meeting") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer()))
        batch.add_column(sa.Column("series_starts_at", sa.DateTime(timezone=True)))
        batch.create_foreign_key(op.f("fk_meeting_series_id_meeting_series"), "meeting_series", ["series_id"], ["id"], ondelete="SET NULL")
        batch.create_index(op.f("ix_meeting_series_id"), ["series_id"])


def downgrade():
    with op.batch_alter_table("meeting") as batch:
        batch.drop_index(op.f("ix_meeting_series_id"))
        batch.drop_constraint(op.f("fk_meeting_series_id_meeting_series"), type_="foreignkey")
        batch.drop_column("series_starts_at")
        batch.drop_column("series_id")
    op.drop_table("meeting_series")
