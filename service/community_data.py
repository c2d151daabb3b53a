"""Every row of one community, table by table, read from the SQLAlchemy metadata (export's community.json).

The tables are classified from their foreign keys, so a table or column
added later is carried without touching this module:

- the community's own tables: `community`, and every table with a foreign
  key to one of them (meetings, then invitations, then ...). A row belongs
  when one of those keys points at a row that belongs.
- shared tables, rows other communities may use too, matched in the target
  instance by a natural key instead of their id: members by address,
  organizations by name key, lessons by slug, accounts by address. Only the
  rows the community's rows point at are carried, and a member with the name
  and language this community knows them by (not the person's own, which
  another community may have set).
- tables that come with a shared row (a lesson's modules): carried with it.
- instance-level tables, named in INSTANCE_LEVEL, that no community owns.

A table that fits none of these is an error (tests/test_community_export.py
checks the metadata), so a new table makes someone decide where it goes.
"""
import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import JSON, Date, DateTime, LargeBinary, Table, or_, select

from service.clock import aware
from service.extensions import db

# Matched by these columns in the target instance; an existing row there is used as it is.
NATURAL_KEYS = {"member": "email", "organization": "name_key", "lesson": "slug", "coordinator": "email"}
# Never leave the instance: secrets, and what would grant rights in another one.
NOT_EXPORTED = {"coordinator": {"password_hash", "session_version", "is_admin"}}
# Kept per instance, not per community (a mailbox's read position, the instance's suppression list is carried
# separately for the community's members' addresses: service/community_import.py; the stamps that say whether
# kept health figures still hold, which an imported community starts without).
INSTANCE_LEVEL = {"imap_mailbox_state", "suppression", "alembic_version", "figures_stamp", "figures_kept",
                  "figures_touched"}
# Columns that name a row of another table by (table name, id) without a foreign key.
POLYMORPHIC = {"audit_event": ("object_type", "object_id"), "inbound_message": ("object_kind", "object_id")}
# Kinds of object those columns name that are not a table's name.
KIND_TABLES = {"meeting_feedback": "meeting", "digest": "digest_issue"}
# JSON columns that hold ids (an email's context: what its templates and a reply to it are about; whom an
# announcement reaches), and the table each key names, the key holding an id or a list of them;
# "object_kind"/"object_id" there are polymorphic like the columns above.
CONTEXTS = {"outbound_email": "context", "announcement": "audience"}
CONTEXT_IDS = {"meeting_id": "meeting", "charter_id": "charter", "issue_id": "digest_issue",
               "organization_id": "organization", "module_id": "lesson_module", "response_id": "form_response",
               "coordinator_id": "coordinator", "series_id": "meeting_series", "announcement_id": "announcement",
               "organization_ids": "organization"}


@dataclass(frozen=True)
class Layout:
    owned: tuple[str, ...]           # in dependency order, "community" first
    shared: tuple[str, ...]
    shared_children: tuple[str, ...]


def tables() -> dict[str, Table]:
    return {table.name: table for table in db.metadata.sorted_tables}


def _references(table: Table) -> set[str]:
    return {fk.column.table.name for fk in table.foreign_keys}


@lru_cache(maxsize=1)
def layout() -> Layout:
    """The classification of every table; ValueError names a table that fits no class."""
    by_name = tables()
    owned = ["community"]
    for name, table in by_name.items():  # sorted_tables: a table comes after those it refers to
        if name not in owned and name not in NATURAL_KEYS and _references(table) & set(owned):
            owned.append(name)
    shared_children = [name for name, table in by_name.items() if name not in owned and name not in NATURAL_KEYS
                       and _references(table) and _references(table) <= set(NATURAL_KEYS)]
    unplaced = set(by_name) - set(owned) - set(NATURAL_KEYS) - set(shared_children) - INSTANCE_LEVEL
    if unplaced:
        raise ValueError(f"tables with no place in a community export: {sorted(unplaced)}")
    return Layout(tuple(owned), tuple(name for name in by_name if name in NATURAL_KEYS), tuple(shared_children))


def exported_columns(table: Table) -> list:
    return [column for column in table.columns if column.name not in NOT_EXPORTED.get(table.name, ())]


def owned_id_queries(community_id: int) -> dict[str, object]:
    """For each of the community's own tables, a SELECT of the ids of its rows that belong to the community."""
    by_name = tables()
    queries = {"community": select(by_name["community"].c.id).where(by_name["community"].c.id == community_id)}
    for name in layout().owned[1:]:
        table = by_name[name]
        conditions = [fk.parent.in_(queries[fk.column.table.name]) for fk in table.foreign_keys
                      if fk.column.table.name in queries]
        queries[name] = select(table.c.id).where(or_(*conditions))
    return queries


def community_rows(community_id: int) -> dict[str, list[dict]]:
    """Every row of the community and of the shared rows it uses, as JSON-ready dicts, by table."""
    by_name, plan = tables(), layout()
    rows: dict[str, list[dict]] = {}
    for name, ids in owned_id_queries(community_id).items():
        table = by_name[name]
        rows[name] = _read(table, table.c.id.in_(ids))
    for name in plan.shared:  # referenced by the community's rows (members before organizations' contacts)
        table = by_name[name]
        wanted = _referenced_ids(name, rows)
        rows[name] = _read(table, table.c.id.in_(wanted)) if wanted else []
    for name in plan.shared_children:
        table = by_name[name]
        conditions = [fk.parent.in_([row["id"] for row in rows[fk.column.table.name]])
                      for fk in table.foreign_keys]
        rows[name] = _read(table, or_(*conditions))
    _drop_outside_references(rows)
    _as_the_community_knows_them(rows)
    return rows


def _referenced_ids(name: str, rows: dict[str, list[dict]]) -> set[int]:
    """Ids of `name` that the community's own rows point at."""
    wanted = set()
    for table_name in layout().owned:
        for fk in tables()[table_name].foreign_keys:
            if fk.column.table.name == name:
                wanted.update(row[fk.parent.name] for row in rows[table_name] if row[fk.parent.name] is not None)
    return wanted


def _drop_outside_references(rows: dict[str, list[dict]]) -> None:
    """A shared row pointing at a shared row the community does not use (an organization's contact who is not a
    member here) points at nothing in the export: no person outside the community is carried."""
    for name in layout().shared:
        for fk in tables()[name].foreign_keys:
            present = {row["id"] for row in rows.get(fk.column.table.name, [])}
            for row in rows[name]:
                if row[fk.parent.name] not in present:
                    row[fk.parent.name] = None


def _as_the_community_knows_them(rows: dict[str, list[dict]]) -> None:
    """A member's own name and language are the person's, which this community's coordinators may not see (another
    community may have set them): the export gives the name and language this community knows them by."""
    known = {row["member_id"]: row for row in rows["membership"]}
    for member in rows["member"]:
        membership = known.get(member["id"])
        member["name"] = membership["name"] if membership else member["email"]
        member["language"] = membership["language"] if membership else "en"


def _read(table: Table, condition) -> list[dict]:
    columns = exported_columns(table)
    result = db.session.execute(select(*columns).where(condition).order_by(table.c.id))
    return [{column.name: to_json(column, value) for column, value in zip(columns, row)} for row in result]


def to_json(column, value):
    """A column's value as JSON: times as ISO 8601 in UTC, dates as ISO 8601, bytes as base64."""
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return aware(value).isoformat()
    if isinstance(column.type, Date):
        return value.isoformat()
    if isinstance(column.type, LargeBinary):
        return base64.b64encode(value).decode("ascii")
    return value


@lru_cache(maxsize=None)
def reader(column) -> Callable:
    """The inverse of to_json for this column (its type looked at once): a function of the JSON value that raises
    ValueError or TypeError for a value the column cannot take."""
    if isinstance(column.type, DateTime):
        return lambda value: None if value is None else aware(datetime.fromisoformat(value))
    if isinstance(column.type, Date):
        return lambda value: None if value is None else date.fromisoformat(value)
    if isinstance(column.type, LargeBinary):
        return lambda value: None if value is None else base64.b64decode(value, validate=True)
    if isinstance(column.type, JSON):
        return lambda value: value
    python_type = column.type.python_type
    allowed = (int, float) if python_type is float else (python_type,)

    def read(value):
        if value is None:
            return None
        if type(value) not in allowed:  # exactly: True is no number here
            raise TypeError(f"{column.table.name}.{column.name}: {value!r} is not {python_type.__name__}")
        return python_type(value) if python_type is float else value
    return read
