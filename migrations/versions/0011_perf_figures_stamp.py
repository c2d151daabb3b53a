"""A stamp per community that goes up whenever a row its health figures count changes (figures_stamp), kept
by triggers on PostgreSQL and SQLite, so kept recent months are read while they hold and counted again only
after a change: the figures stay current without counting them at every look.

On PostgreSQL the triggers run once per statement over its changed rows (a meeting's 10,000 invitations are
one bump, not 10,000); SQLite has row triggers only, which is what its single writer needs. The functions are
created OR REPLACE: dropping the tables (the tests and benchmarks rebuild the schema so) leaves them behind.

Revision ID: 0011_perf
Revises: 0010_needs
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_perf"
down_revision = "0010_needs"
branch_labels = None
depends_on = None

SUPPRESSIONS = "('member.bounced', 'member.unsubscribe')"
# Each table whose rows the figures count: the columns a changed row needs, and the communities it touches (c),
# as SQL over {rows} (the changed rows, aliased r).
TRIGGERED = {
    "membership": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "meeting": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "invitation": (("meeting_id",),
                   "SELECT m.community_id AS c FROM {rows} AS r JOIN meeting AS m ON m.id = r.meeting_id"),
    "form_request": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "form_response": (("request_id",),
                      "SELECT q.community_id AS c FROM {rows} AS r JOIN form_request AS q ON q.id = r.request_id"),
    "form_answer": (("response_id",),
                    "SELECT q.community_id AS c FROM {rows} AS r JOIN form_response AS p ON p.id = r.response_id"
                    " JOIN form_request AS q ON q.id = p.request_id"),
    "practice": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "inbound_message": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    # A member's bounce or unsubscribe counts in every community they belong to.
    "audit_event": (("object_type", "object_id", "action"),
                    "SELECT s.community_id AS c FROM {rows} AS r JOIN membership AS s ON s.member_id = r.object_id"
                    f" WHERE r.object_type = 'member' AND r.action IN {SUPPRESSIONS}"),
}
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def _bump(communities: str, version: str) -> str:
    """SQL: every community `communities` yields gets its stamp one higher (created at 1)."""
    return (f"INSERT INTO figures_stamp (community_id, version)"
            f" SELECT DISTINCT c, 1 FROM ({communities}) AS touched WHERE c IS NOT NULL ORDER BY 1"
            f" ON CONFLICT (community_id) DO UPDATE SET version = {version} + 1")


def _postgresql():
    for table, (_columns, communities) in TRIGGERED.items():
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        {_bump(communities.format(rows="new_rows"), "figures_stamp.version")};
    END IF;
    IF TG_OP <> 'INSERT' THEN
        {_bump(communities.format(rows="old_rows"), "figures_stamp.version")};
    END IF;
    RETURN NULL;
END $$""")
        transition = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                      "DELETE": "OLD TABLE AS old_rows"}
        for operation in OPERATIONS:
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" REFERENCING {transition[operation]} FOR EACH STATEMENT"
                       f" EXECUTE FUNCTION figures_changed_{table}()")


def _sqlite():
    for table, (columns, communities) in TRIGGERED.items():
        for operation in OPERATIONS:
            bumps = []
            for row in (("NEW",) if operation == "INSERT" else ("OLD",) if operation == "DELETE" else ("NEW", "OLD")):
                one_row = "(SELECT " + ", ".join(f"{row}.{column} AS {column}" for column in columns) + ")"
                bumps.append(_bump(communities.format(rows=one_row), "figures_stamp.version") + ";")
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" FOR EACH ROW BEGIN {' '.join(bumps)} END")


def upgrade():
    op.create_table(
        "figures_stamp",
        sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("kept_version", sa.BigInteger(), nullable=True),
        sa.Column("kept_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("community_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in TRIGGERED:
        for operation in OPERATIONS:
            op.execute(f"DROP TRIGGER figures_changed_{table}_{operation.lower()}"
                       + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION figures_changed_{table}()")
    op.drop_table("figures_stamp")
