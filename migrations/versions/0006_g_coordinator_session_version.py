"""coordinator.session_version: logging out or a new password ends every session signed before

Revision ID: 0006_g
Revises: 597205462b50
Create Date: 2026-11-30 08:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0006_g'
down_revision = '597205462b50'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('coordinator', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('coordinator', schema=None) as batch_op:
        batch_op.drop_column('session_version')
