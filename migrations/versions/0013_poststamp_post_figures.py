"""Posts waiting for a moderator are among what needs a person (service/needs_you.py): a change to a post raises
its community's figures stamp as the tables of 0011_perf do (a trigger per statement on PostgreSQL, per row on
SQLite), so the kept count of waiting posts is counted again after any change

Revision ID: 0013_poststamp
Revises: 0011_perf
"""
from alembic import op

revision = "0013_poststamp"
down_revision = "0011_perf"
branch_labels = None
depends_on = None

OPERATIONS = ("INSERT", "UPDATE", "DELETE")
TRANSITIONS = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "DELETE": "OLD TABLE AS old_rows"}


def _bump(rows: str) -> str:
    return ("INSERT INTO figures_stamp (community_id, version)"
            f" SELECT DISTINCT r.community_id, 1 FROM {rows} AS r WHERE r.community_id IS NOT NULL ORDER BY 1"
            " ON CONFLICT (community_id) DO UPDATE SET version = figures_stamp.version + 1")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        {_bump("new_rows")};
    END IF;
    IF TG_OP <> 'INSERT' THEN
        {_bump("old_rows")};
    END IF;
    RETURN NULL;
END $$""")
        for operation in OPERATIONS:
            op.execute(f"CREATE TRIGGER figures_changed_post_{operation.lower()} AFTER {operation} ON post"
                       f" REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT"
                       " EXECUTE FUNCTION figures_changed_post()")
        return
    for operation in OPERATIONS:
        rows = ("NEW",) if operation == "INSERT" else ("OLD",) if operation == "DELETE" else ("NEW", "OLD")
        bumps = " ".join(_bump(f"(SELECT {row}.community_id AS community_id)") + ";" for row in rows)
        op.execute(f"CREATE TRIGGER figures_changed_post_{operation.lower()} AFTER {operation} ON post"
                   f" FOR EACH ROW BEGIN {bumps} END")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for operation in OPERATIONS:
        op.execute(f"DROP TRIGGER figures_changed_post_{operation.lower()}" + (" ON post" if postgresql else ""))
    if postgresql:
        op.execute("DROP FUNCTION figures_changed_post()")
