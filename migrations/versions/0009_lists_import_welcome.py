"""A member import remembers whether each new member gets the welcome email (chosen when it is confirmed)

Revision ID: 0009_lists
Revises: 0008_core
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_lists"
down_revision = "0008_core"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("member_import") as batch:
        batch.add_column(sa.Column("send_welcome", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table("member_import") as batch:
        batch.drop_column("send_welcome")
