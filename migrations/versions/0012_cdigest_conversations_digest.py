"""Conversations in digests: when each membership's conversations were last put in a digest

Revision ID: 0012_cdigest
Revises: 0011_conv
"""
from alembic import op
import sqlalchemy as sa

revision = "0012_cdigest"
down_revision = "0011_conv"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("membership", sa.Column("conversations_digest_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    # Not in a batch: SQLite's batch mode copies the table and would lose its expression indexes (0009_lists).
    op.drop_column("membership", "conversations_digest_at")
