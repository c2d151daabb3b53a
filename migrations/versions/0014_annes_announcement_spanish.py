"""An announcement's Spanish subject and message beside its English ones (service.bilingual: either language may
be empty, not both)

Revision ID: 0014_annes
Revises: 0011_bilingual
"""
from alembic import op
import sqlalchemy as sa

revision = "0014_annes"
down_revision = "0011_bilingual"
branch_labels = None
depends_on = None


def upgrade():
    empty = sa.text("''")
    op.add_column("announcement", sa.Column("subject_es", sa.String(length=150), nullable=False, server_default=empty))
    op.add_column("announcement", sa.Column("body_es", sa.Text(), nullable=False, server_default=empty))


def downgrade():
    op.drop_column("announcement", "body_es")
    op.drop_column("announcement", "subject_es")
