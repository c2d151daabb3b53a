"""Facilitation handed on: who passed which meeting's facilitation to whom, by link or reply

Revision ID: 0009_rot
Revises: 0009_engage
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_rot"
down_revision = "0009_engage"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "facilitator_swap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("from_member_id", sa.Integer(), nullable=False),
        sa.Column("to_member_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["meeting_id"], ["meeting.id"], name=op.f("fk_facilitator_swap_meeting_id_meeting"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["from_member_id"], ["member.id"],
                                name=op.f("fk_facilitator_swap_from_member_id_member"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_member_id"], ["member.id"],
                                name=op.f("fk_facilitator_swap_to_member_id_member"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_facilitator_swap")),
    )
    op.create_index(op.f("ix_facilitator_swap_meeting_id"), "facilitator_swap", ["meeting_id"])


def downgrade():
    op.drop_index(op.f("ix_facilitator_swap_meeting_id"), table_name="facilitator_swap")
    op.drop_table("facilitator_swap")
