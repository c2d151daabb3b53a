"""The figures stamp also rises with every change the community page and the members list show (so both are kept
per stamp, service/views/kept_pages.py): who runs a community (community_coordinator, and those accounts' names,
addresses and standing), digest issues (the checklist's "digests going out"), bounces (the last one is shown),
organizations' names, and a member's address, name or pause as well as their status. A row added to or removed
from the outbox raises it too (the Outbox's count of a community's emails is kept per stamp, service/outbox.py):
per statement, so a fan-out of 10,000 is one raise, and a delivery's update none.

Revision ID: 0015_lstpage
Revises: 0014_annes
"""
from alembic import op

revision = "0015_lstpage"
down_revision = "0014_annes"
branch_labels = None
depends_on = None

OPERATIONS = ("INSERT", "UPDATE", "DELETE")
TRANSITIONS = {"INSERT": "NEW TABLE AS new_rows", "UPDATE": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "DELETE": "OLD TABLE AS old_rows"}
# Each table: the columns a changed row needs, and the communities it touches (c) as SQL over {rows} (alias r).
EVERY_CHANGE = {
    "community_coordinator": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "digest_issue": (("community_id",), "SELECT r.community_id AS c FROM {rows} AS r"),
    "bounce_event": (("member_id",),
                     "SELECT s.community_id AS c FROM {rows} AS r JOIN membership AS s ON s.member_id = r.member_id"),
}
# Tables where only rows added or removed count (once per statement); the names of 0011_perf's row triggers
# on outbound_email are taken, hence "outbox_rows".
ADDED_OR_REMOVED = {"outbound_email": ("outbox_rows", "SELECT r.community_id AS c FROM {rows} AS r")}
# Tables where only some updates are shown: a trigger per row, when its condition holds.
SOME_UPDATES = {
    "organization": (("id",),
                     "SELECT s.community_id AS c FROM {rows} AS r JOIN membership AS s ON s.organization_id = r.id",
                     "OLD.name IS DISTINCT FROM NEW.name"),
    "coordinator": (("id",), "SELECT s.community_id AS c FROM {rows} AS r"
                             " JOIN community_coordinator AS s ON s.coordinator_id = r.id",
                    "OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email"
                    " OR OLD.active IS DISTINCT FROM NEW.active OR OLD.is_admin IS DISTINCT FROM NEW.is_admin"
                    " OR OLD.password_hash IS DISTINCT FROM NEW.password_hash"),
}
# The member row trigger of 0011_perf, whose condition widens here (its function stays).
MEMBER_BEFORE = "OLD.status IS DISTINCT FROM NEW.status"
MEMBER_AFTER = ("OLD.status IS DISTINCT FROM NEW.status OR OLD.paused IS DISTINCT FROM NEW.paused"
                " OR OLD.email IS DISTINCT FROM NEW.email OR OLD.name IS DISTINCT FROM NEW.name")
MEMBER_ROWS = "SELECT s.community_id AS c FROM {rows} AS r JOIN membership AS s ON s.member_id = r.id"


def _bump(communities: str) -> str:
    """SQL: every community `communities` yields gets its stamp one higher (created at 1)."""
    return ("INSERT INTO figures_stamp (community_id, version)"
            f" SELECT DISTINCT c, 1 FROM ({communities}) AS touched WHERE c IS NOT NULL ORDER BY 1"
            " ON CONFLICT (community_id) DO UPDATE SET version = figures_stamp.version + 1")


def _one_row(row: str, columns: tuple[str, ...]) -> str:
    return "(SELECT " + ", ".join(f"{row}.{column} AS {column}" for column in columns) + ")"


def _sqlite_member_trigger(condition: str) -> None:
    op.execute("DROP TRIGGER figures_changed_member_update")
    bumps = " ".join(_bump(MEMBER_ROWS.format(rows=_one_row(row, ("id",)))) + ";" for row in ("NEW", "OLD"))
    op.execute("CREATE TRIGGER figures_changed_member_update AFTER UPDATE ON member"
               f" FOR EACH ROW WHEN {condition} BEGIN {bumps} END")


def _member_trigger(condition: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        _sqlite_member_trigger(condition)
        return
    op.execute("DROP TRIGGER figures_changed_member_update ON member")
    op.execute("CREATE TRIGGER figures_changed_member_update AFTER UPDATE ON member"
               f" FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION figures_changed_member()")


def _postgresql():
    for table, (_columns, communities) in EVERY_CHANGE.items():
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        {_bump(communities.format(rows="new_rows"))};
    END IF;
    IF TG_OP <> 'INSERT' THEN
        {_bump(communities.format(rows="old_rows"))};
    END IF;
    RETURN NULL;
END $$""")
        for operation in OPERATIONS:
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT"
                       f" EXECUTE FUNCTION figures_changed_{table}()")
    for table, (name, communities) in ADDED_OR_REMOVED.items():
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_{name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_bump(communities.format(rows="new_rows"))};
    ELSE
        {_bump(communities.format(rows="old_rows"))};
    END IF;
    RETURN NULL;
END $$""")
        for operation in ("INSERT", "DELETE"):
            op.execute(f"CREATE TRIGGER figures_changed_{name}_{operation.lower()} AFTER {operation} ON {table}"
                       f" REFERENCING {TRANSITIONS[operation]} FOR EACH STATEMENT"
                       f" EXECUTE FUNCTION figures_changed_{name}()")
    for table, (columns, communities, condition) in SOME_UPDATES.items():
        op.execute(f"""
CREATE OR REPLACE FUNCTION figures_changed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {_bump(communities.format(rows=_one_row("NEW", columns)))};
    RETURN NULL;
END $$""")
        op.execute(f"CREATE TRIGGER figures_changed_{table}_update AFTER UPDATE ON {table}"
                   f" FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION figures_changed_{table}()")


def _sqlite():
    for table, (columns, communities) in EVERY_CHANGE.items():
        for operation in OPERATIONS:
            rows = ("NEW",) if operation == "INSERT" else ("OLD",) if operation == "DELETE" else ("NEW", "OLD")
            bumps = " ".join(_bump(communities.format(rows=_one_row(row, columns))) + ";" for row in rows)
            op.execute(f"CREATE TRIGGER figures_changed_{table}_{operation.lower()} AFTER {operation} ON {table}"
                       f" FOR EACH ROW BEGIN {bumps} END")
    for table, (name, communities) in ADDED_OR_REMOVED.items():
        for operation, row in (("INSERT", "NEW"), ("DELETE", "OLD")):
            bump = _bump(communities.format(rows=_one_row(row, ("community_id",))))
            op.execute(f"CREATE TRIGGER figures_changed_{name}_{operation.lower()} AFTER {operation} ON {table}"
                       f" FOR EACH ROW BEGIN {bump}; END")
    for table, (columns, communities, condition) in SOME_UPDATES.items():
        op.execute(f"CREATE TRIGGER figures_changed_{table}_update AFTER UPDATE ON {table} FOR EACH ROW"
                   f" WHEN {condition} BEGIN {_bump(communities.format(rows=_one_row('NEW', columns)))}; END")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _postgresql()
    else:
        _sqlite()
    _member_trigger(MEMBER_AFTER)


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    _member_trigger(MEMBER_BEFORE)
    for table, done in {**{table: OPERATIONS for table in EVERY_CHANGE},
                        **{table: ("UPDATE",) for table in SOME_UPDATES}}.items():
        for operation in done:
            op.execute(f"DROP TRIGGER figures_changed_{table}_{operation.lower()}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION figures_changed_{table}()")
    for table, (name, _communities) in ADDED_OR_REMOVED.items():
        for operation in ("INSERT", "DELETE"):
            op.execute(f"DROP TRIGGER figures_changed_{name}_{operation.lower()}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION figures_changed_{name}()")
