"""A member import remembers whether each new member gets the welcome email (chosen when it is confirmed);
memberships indexed by community and name, so the members list's pages are read in order

Revision ID: 0009_lists
Revises: 0009_vote
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_lists"
down_revision = "0009_vote"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("member_import") as batch:
        batch.add_column(sa.Column("send_welcome", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index("ix_membership_community_name", "membership", ["community_id", sa.text("lower(name)"), "id"])
    op.create_index("ix_membership_community_status_name", "membership",
                    ["community_id", "status", sa.text("lower(name)"), "id"])


def downgrade():
    op.drop_index("ix_membership_community_status_name", table_name="membership")
    op.drop_index("ix_membership_community_name", table_name="membership")
    with op.batch_alter_table("member_import") as batch:
        batch.drop_column("send_welcome")
