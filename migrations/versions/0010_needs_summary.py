"""What needs a coordinator: how often each account is emailed the "needs you" list (daily, weekly, never)

Revision ID: 0010_needs
Revises: 0009_lists
"""
from alembic import op
import sqlalchemy as sa


revision = "0010_needs"
down_revision = "0009_lists"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("coordinator", sa.Column("needs_summary", sa.String(length=8), nullable=False,
                                           server_default="daily"))


def downgrade():
    with op.batch_alter_table("coordinator") as batch:
        batch.drop_column("needs_summary")
