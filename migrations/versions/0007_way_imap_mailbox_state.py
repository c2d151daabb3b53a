"""imap_mailbox_state: the last UID `flask mail poll-imap` stored, per mailbox folder and UIDVALIDITY

Revision ID: 0007_way
Revises: 0007_core
"""
from alembic import op
import sqlalchemy as sa


revision = "0007_way"
down_revision = "0007_core"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "imap_mailbox_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(length=500), nullable=False),
        sa.Column("uid_validity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imap_mailbox_state")),
        sa.UniqueConstraint("mailbox", name=op.f("uq_imap_mailbox_state_mailbox")),
    )


def downgrade():
    op.drop_table("imap_mailbox_state")
