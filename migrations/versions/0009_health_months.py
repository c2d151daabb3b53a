"""Health over time: each community's figures per month, kept (health_month); the audit trail indexed by action
and time (when members bounced or unsubscribed), memberships by community and status and members by status (the
dashboard's counts)

Revision ID: 0009_health
Revises: 0009_rot
"""
from alembic import op
import sqlalchemy as sa


revision = "0009_health"
down_revision = "0009_rot"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "health_month",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("community_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("members", "invited", "answered", "counted", "attended", "feedback")),
        sa.Column("usefulness", sa.Double(), nullable=True),
        sa.Column("recommend", sa.Double(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False)
          for name in ("practices", "replies", "active", "bounced", "unsubscribed")),
        sa.ForeignKeyConstraint(["community_id"], ["community.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("community_id", "month", name="uq_health_month"),
    )
    op.create_index("ix_audit_event_action_created", "audit_event", ["action", "created_at"])
    op.create_index("ix_membership_community_status", "membership", ["community_id", "status"])
    op.create_index("ix_member_status", "member", ["status"])


def downgrade():
    op.drop_index("ix_member_status", table_name="member")
    op.drop_index("ix_membership_community_status", table_name="membership")
    op.drop_index("ix_audit_event_action_created", table_name="audit_event")
    op.drop_table("health_month")
