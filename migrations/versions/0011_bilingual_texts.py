"""Texts members read in English and Spanish: a Spanish column beside each English one (service.bilingual)

The original columns stay the English text, so every row written before reads
as English; a form request also gains an introduction in both languages.

Revision ID: 0011_bilingual
Revises: 0010_needs
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_bilingual"
down_revision = "0010_needs"
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    "meeting": [("title_es", sa.String(length=200)), ("agenda_es", sa.Text()), ("agenda_html_es", sa.Text()),
                ("agenda_plain_es", sa.Text())],
    "form_request": [("title_es", sa.String(length=200)), ("intro", sa.Text()), ("intro_es", sa.Text())],
    "charter": [("body_es", sa.Text()), ("body_html_es", sa.Text()), ("body_plain_es", sa.Text())],
}


def upgrade():
    # Filled with "" for the rows there are, then without a default, as the models have them.
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, type_ in columns:
                batch.add_column(sa.Column(name, type_, nullable=False, server_default=""))
        with op.batch_alter_table(table) as batch:
            for name, _type in columns:
                batch.alter_column(name, server_default=None)


def downgrade():
    for table, columns in NEW_COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for name, _type in reversed(columns):
                batch.drop_column(name)
