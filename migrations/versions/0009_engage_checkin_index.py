"""outbound_email indexed by community and kind: a community's check-ins found without reading all its mail

Revision ID: 0009_engage
Revises: 0008_core
"""
from alembic import op


revision = "0009_engage"
down_revision = "0008_core"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_outbound_email_community_kind", "outbound_email", ["community_id", "kind"])


def downgrade():
    op.drop_index("ix_outbound_email_community_kind", table_name="outbound_email")
