"""Sustaining communities: a role per community coordinator (coordinator, leader, observer), when a
community's TTA coordinator stepped back and when it was archived, members willing to facilitate, and
when a meeting's facilitator was told

Revision ID: 0008_core
Revises: 0007_way
"""
from alembic import op
import sqlalchemy as sa


revision = "0008_core"
down_revision = "0007_way"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("community_coordinator") as batch:
        batch.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="coordinator"))
    with op.batch_alter_table("community") as batch:
        batch.add_column(sa.Column("stepped_back_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("membership") as batch:
        batch.add_column(sa.Column("willing_to_facilitate", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    with op.batch_alter_table("meeting") as batch:
        batch.add_column(sa.Column("facilitator_told_at", sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("meeting") as batch:
        batch.drop_column("facilitator_told_at")
    with op.batch_alter_table("membership") as batch:
        batch.drop_column("willing_to_facilitate")
    with op.batch_alter_table("community") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("stepped_back_at")
    with op.batch_alter_table("community_coordinator") as batch:
        batch.drop_column("role")
