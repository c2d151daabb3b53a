"""A stamp per community that goes up whenever a row its health figures or what needs a person count changes
(figures_stamp), kept by triggers on PostgreSQL and SQLite, and what was counted at which stamp (figures_kept):
kept figures are read while they hold and counted again only after a change, so they stay current without
counting them at every look. Pages write only figures_kept, never a row the triggers lock.

On PostgreSQL the triggers run once per statement over its changed rows (a meeting's 10,000 invitations are
one bump, not 10,000); SQLite has row triggers only, which is what its single writer needs. The functions are
created OR REPLACE: dropping the tables (the tests and benchmarks rebuild the schema so) leaves them behind.

Revision ID: 0011_perf
Revises: 0011_ann_b
"""
from alembic import op
import sqlalchemy as sa


revision = "0011_perf"
down_revision = "0011_ann_b"
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
    # What needs a person (service/needs_you.py) besides practices and replies above.
    "intake_entry": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "charter": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "charter_vote": (("charter_id",),
                     "SELECT h.community_id AS c FROM {rows} AS r JOIN charter AS h ON h.id = r.charter_id"),
}
# Tables changed often where few changes count: a trigger per row, run only when its condition holds (a
# delivery's outcome that is not a failure costs nothing more).
ROW_TRIGGERED = {
    "outbound_email": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r",
                       {"INSERT": "NEW.status = 'failed'", "DELETE": "OLD.status = 'failed'",
                        "UPDATE": "(OLD.status = 'failed') <> (NEW.status = 'failed')"}),
    "member": (("id",), "SELECT s.community_id AS c FROM {rows} AS r JOIN membership AS s ON s.member_id = r.id",
               {"UPDATE": "OLD.status IS DISTINCT FROM NEW.status"}),
}
OPERATIONS = ("INSERT", "UPDATE", "DELETE")


def _bump(communities: str, version: str) -> str:
    """SQL: every community `communities` yields gets its stamp one higher (created at 1)."""
    return (f"INSERT INTO figures_stamp (community_id, version)"
            f" SELECT DISTINCT c, 1 FROM ({communities}) AS touched WHERE c IS NOT NULL ORDER BY 1"
            f" ON CONFLICT (community_id) DO UPDATE SET version = {version} + 1")


def _one_row(row: str, columns: tuple[str, ...]) -> str:
    return "(SELECT " + ", ".join(f"{row}.{column} AS {column}" for column in columns) + ")"


def _postgresql():
    for table, (columns, communities, conditions) in ROW_TRIGGERED.items():
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        {_bump(communities.format(rows=_one_row("NEW", columns)), "figures_stamp.version")};
    END IF;
    IF TG_OP <> 'INSERT' THEN
        {_bump(communities.format(rows=_one_row("OLD", columns)), "figures_stamp.version")};
    END IF;
    RETURN NULL;
END $$""")
        for operation, condition in conditions.items():
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION figures_changed_{table}()")
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
    every = {table: (columns, communities, dict.fromkeys(OPERATIONS))
             for table, (columns, communities) in TRIGGERED.items()}
    for table, (columns, communities, conditions) in {**every, **ROW_TRIGGERED}.items():
        for operation, condition in conditions.items():
            rows = ("NEW",) if operation == "INSERT" else ("OLD",) if operation == "DELETE" else ("NEW", "OLD")
            bumps = " ".join(_bump(communities.format(rows=_one_row(row, columns)), "figures_stamp.version") + ";"
                             for row in rows)
            when = f" WHEN {condition}" if condition else ""
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" FOR EACH ROW{when} BEGIN {bumps} END")


def upgrade():
    op.create_table(
        "figures_stamp",
        sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("community_id"),
    )
    op.create_table(
        "figures_kept",
        sa.Column("community_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("months_version", sa.BigInteger(), nullable=True),
        sa.Column("months_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_version", sa.BigInteger(), nullable=True),
        sa.Column("waiting", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("community_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    operations = {**{table: OPERATIONS for table in TRIGGERED},
                  **{table: tuple(conditions) for table, (_c, _s, conditions) in ROW_TRIGGERED.items()}}
    for table, done in operations.items():
        for operation in done:
            op.execute(f"DROP TRIGGER figures_changed_{table}_{operation.lower()}"
                       + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION figures_changed_{table}()")
    op.drop_table("figures_kept")
    op.drop_table("figures_stamp")
