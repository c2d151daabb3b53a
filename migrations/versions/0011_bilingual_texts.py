"""Texts members read in English and Spanish: a Spanish column beside each English one (service.bilingual)

The original columns stay the English text, so every row written before reads
as English; a form request also gains an introduction in both languages.

Revision ID: 0011_bilingual
Revises: 0013_poststamp
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_bilingual"
down_revision = "0013_poststamp"
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    "meeting": [("title_es", sa.String(length=200)), ("agenda_es", sa.Text()), ("agenda_html_es", sa.Text()),
                ("agenda_plain_es", sa.Text())],
    "form_request": [("title_es", sa.String(length=200)), ("intro", sa.Text()), ("intro_es", sa.Text())],
    "charter": [("body_es", sa.Text()), ("body_html_es", sa.Text()), ("body_plain_es", sa.Text())],
}


def upgrade():
    # Filled with "" for the rows there are, and kept as the columns' default. Added (and dropped) one by one,
    # not in a batch: SQLite's batch mode copies the table and renames the copy, which the figures triggers
    # (0011_perf) on tables naming it refuse while it is briefly missing.
    for table, columns in NEW_COLUMNS.items():
        for name, type_ in columns:
            op.add_column(table, sa.Column(name, type_, nullable=False, server_default=sa.text("''")))


def downgrade():
    for table, columns in NEW_COLUMNS.items():
        for name, _type in reversed(columns):
            op.drop_column(table, name)
