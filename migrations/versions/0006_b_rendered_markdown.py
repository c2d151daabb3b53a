"""Markdown rendered once, when saved: HTML and plain text beside lesson bodies, agendas and charters

Revision ID: 0006_b
Revises: 0006_g

Existing rows are rendered here with the same function the domain uses
(service.markdown_text.render), so every page and email can read the
stored forms from now on.
"""
from alembic import op
import sqlalchemy as sa

from service.markdown_text import render

revision = "0006_b"
down_revision = "0006_g"
branch_labels = None
depends_on = None

# table -> (Markdown column, its HTML column, its plain-text column)
RENDERED = {
    "lesson_module": [("body_en", "body_html_en", "body_plain_en"), ("body_es", "body_html_es", "body_plain_es")],
    "meeting": [("agenda", "agenda_html", "agenda_plain")],
    "charter": [("body", "body_html", "body_plain")],
}


def upgrade():
    for table, columns in RENDERED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _source, html, plain in columns:
                batch_op.add_column(sa.Column(html, sa.Text(), nullable=False, server_default=""))
                batch_op.add_column(sa.Column(plain, sa.Text(), nullable=False, server_default=""))
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _source, html, plain in columns:
                batch_op.alter_column(html, server_default=None)
                batch_op.alter_column(plain, server_default=None)
    connection = op.get_bind()
    for table, columns in RENDERED.items():
        for source, html, plain in columns:
            rows = connection.execute(sa.text(f"SELECT id, {source} FROM {table} WHERE {source} <> ''")).all()
            for row_id, markdown in rows:
                rendered = render(markdown)
                connection.execute(sa.text(f"UPDATE {table} SET {html} = :html, {plain} = :plain WHERE id = :id"),
                                   {"html": rendered.html, "plain": rendered.plain, "id": row_id})


def downgrade():
    for table, columns in RENDERED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for _source, html, plain in reversed(columns):
                batch_op.drop_column(plain)
                batch_op.drop_column(html)
