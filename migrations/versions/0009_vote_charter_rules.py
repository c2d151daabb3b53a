"""Charter voting rules: a quorum and approval threshold per community, a voting deadline and its reminder,
the reason for a ratification that overrode the rules

Revision ID: 0009_vote
Revises: 0009_health
"""
import sqlalchemy as sa
from alembic import op


revision = "0009_vote"
down_revision = "0009_health"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("community") as batch:
        batch.add_column(sa.Column("charter_quorum", sa.Integer(), server_default="5000", nullable=False))
        batch.add_column(sa.Column("charter_approval", sa.Integer(), server_default="6667", nullable=False))
    with op.batch_alter_table("charter") as batch:
        batch.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("reminder_sent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("charter") as batch:
        batch.drop_column("override_reason")
        batch.drop_column("reminder_sent_at")
        batch.drop_column("deadline_at")
    with op.batch_alter_table("community") as batch:
        batch.drop_column("charter_approval")
        batch.drop_column("charter_quorum")
