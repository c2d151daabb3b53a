"""Loading a community's export (service/community_export.py) into this instance, in one transaction.

Every row gets a new id and every foreign key follows it. Shared rows are
matched by their natural key (community_data.NATURAL_KEYS): a member whose
address this instance knows is that member, as they are here (their name,
language and preferences are not overwritten); likewise an organization by
its name key, a lesson by its slug, an account by its address. A new account
arrives with no usable password and never as an admin: its owner sets one
with `flask users reset-password`.

What could act twice is neutralised: an email that was still waiting to go
out is recorded as not sent (the old instance may have sent it), and every
email's idempotency key is prefixed with the export's id, so keys made from
the old ids never stop this instance's own mail. Imported into the instance it
came from (a copy), a value that must be unique there (a meeting's calendar
UID, a received message's Message-ID) gets a prefix. Anything wrong (not our
format, a newer schema, the same export imported before, a row the database
refuses) raises ImportRefused and the caller rolls back: nothing is written.
"""
import json
import zipfile
from functools import lru_cache
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import JSON, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from service import audit, community_data
from service.community_export import DATA, FORMAT, FORMAT_VERSION, MANIFEST, known_revisions
from service.errors import DomainError
from service.extensions import db
from service.models import AuditEvent, Community, Coordinator, Suppression
from service.sql import on_postgresql, one_of

MAX_DATA_BYTES = 512 * 1024 * 1024  # community.json unpacked
INSERT_CHUNK = 5000  # rows per INSERT on PostgreSQL
UNUSABLE_PASSWORD = "!"  # no password hashes to this: the account's owner sets one by the reset link
NOT_SENT = "imported: it was still waiting to go out where it was exported from, and was not sent from here"


class ImportRefused(DomainError):
    """The file cannot be imported; the message says why in words for the person who tried."""


def read_export(stream: IO[bytes]) -> tuple[dict, dict]:
    """(manifest, tables) from an export zip, or ImportRefused."""
    try:
        archive = zipfile.ZipFile(stream)
        names = set(archive.namelist())
        if MANIFEST not in names or DATA not in names:
            raise ImportRefused(_("This zip is not a community export of this service (it has no %(file)s).",
                                  file=MANIFEST if MANIFEST not in names else DATA))
        if archive.getinfo(DATA).file_size > MAX_DATA_BYTES:
            raise ImportRefused(_("This export is too large to import."))
        manifest = json.loads(archive.read(MANIFEST))
        data = json.loads(archive.read(DATA))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError):
        raise ImportRefused(_("This file is not a zip file, or it is damaged.")) from None
    except (ValueError, UnicodeDecodeError):
        raise ImportRefused(_("This export is damaged: its data cannot be read.")) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ImportRefused(_("This zip is not a community export of this service."))
    if manifest.get("format_version") != FORMAT_VERSION or \
            not set(str(manifest.get("schema_revision", "")).split("+")) <= known_revisions():
        raise ImportRefused(_("This export was made by a newer version of the service (schema %(revision)s). "
                              "Upgrade this instance first, then import it.",
                              revision=manifest.get("schema_revision")))
    tables = data.get("tables") if isinstance(data, dict) else None
    if not isinstance(tables, dict) or len(tables.get("community") or []) != 1:
        raise ImportRefused(_("This export is damaged: it does not hold exactly one community."))
    return manifest, tables


def import_community(actor: Coordinator | None, stream: IO[bytes]) -> Community:
    """Add the exported community to this instance; the caller commits (or rolls back on ImportRefused)."""
    manifest, tables = read_export(stream)
    export_id = str(manifest.get("export_id") or "")
    if not export_id or db.session.scalar(select(AuditEvent.id).where(
            AuditEvent.action == "community.import", AuditEvent.details["export_id"].as_string() == export_id)):
        raise ImportRefused(_("This export was already imported here. Export the community again for a new copy."))
    loader = Loader(tables, export_id)
    try:
        loader.load()
        community = db.session.get(Community, loader.ids["community"][tables["community"][0]["id"]])
        loader.carry_suppressions()
        audit.record(actor, "community.import", "community", community.id, community.id, export_id=export_id,
                     exported_from=manifest.get("community"), exported_at=manifest.get("exported_at"),
                     members_matched=loader.matched.get("member", 0))
        db.session.flush()
    except ImportRefused:
        raise
    except IntegrityError as error:
        detail = str(error.orig).splitlines()[0][:300]
        raise ImportRefused(_("Some of this export's rows are already in this instance (%(detail)s): was it "
                              "exported from here, or imported here before?", detail=detail)) from None
    except (SQLAlchemyError, ValueError, TypeError, KeyError, AttributeError) as error:
        detail = str(getattr(error, "orig", None) or error).splitlines()[0][:300]
        raise ImportRefused(_("This export could not be loaded: %(detail)s", detail=detail)) from None
    return community


def _insert(table, values: list[dict]) -> list[int]:
    """Insert the rows; their new ids, in order."""
    if not on_postgresql():
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        return list(db.session.execute(statement, values).scalars())
    return [new_id for start in range(0, len(values), INSERT_CHUNK)
            for new_id in _insert_from_arrays(table, values[start:start + INSERT_CHUNK])]


def _insert_from_arrays(table, values: list[dict]) -> list[int]:
    """One INSERT ... SELECT FROM unnest(one array per column) with ids taken from the table's sequence first.

    A multi-row VALUES statement has a placeholder per cell, and the driver's
    parsing of them cost four times what the database spent inserting (a
    community of 50,000 rows took 40 s); arrays are one parameter per column.
    """
    ids = list(db.session.scalars(text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) "
                                       "FROM generate_series(1, :count)"), {"table": table.name, "count": len(values)}))
    columns = [table.c.id] + [table.c[name] for name in values[0] if name != "id"]
    for column in table.columns:  # what the ORM would fill in (a column the export did not carry)
        if column.name not in values[0] and not column.primary_key and column.default is not None:
            default = column.default.arg(None) if column.default.is_callable else column.default.arg
            values = [{**row, column.name: default} for row in values]
            columns.append(column)
    dialect = db.session.get_bind().dialect
    arrays, casts = {}, []
    for number, column in enumerate(columns):
        cells = ids if column is table.c.id else [row.get(column.name) for row in values]
        if isinstance(column.type, JSON):
            cells = [None if cell is None else json.dumps(cell) for cell in cells]
        arrays[f"c{number}"] = cells
        casts.append(f"CAST(:c{number} AS {column.type.compile(dialect=dialect)}[])")
    names = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
    db.session.execute(text(f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) "
                            f"SELECT * FROM unnest({', '.join(casts)})"), arrays)
    return ids


@lru_cache(maxsize=None)
def _readers(table) -> dict:
    return {column.name: community_data.reader(column) for column in community_data.exported_columns(table)
            if not column.primary_key}


class Loader:
    """Inserts the rows table by table, parents first, keeping old id -> new id per table."""

    def __init__(self, tables: dict, export_id: str):
        self.rows, self.export_id = tables, export_id
        self.ids: dict[str, dict[int, int]] = {}
        self.matched: dict[str, int] = {}
        self.later: list[tuple[str, int, str, str, int]] = []  # keys to tables loaded after theirs (a cycle)

    def load(self) -> None:
        plan, by_name = community_data.layout(), community_data.tables()
        new_shared: dict[str, set[int]] = {}
        for name, table in by_name.items():  # dependency order
            if name in community_data.INSTANCE_LEVEL:
                continue
            rows = self.rows.get(name) or []
            if not isinstance(rows, list):
                raise ImportRefused(_("This export is damaged: the table %(table)s is not a list of rows.",
                                      table=name))
            if name in plan.shared_children:  # with their parent only when the parent is new here
                rows = [row for row in rows if any(row.get(fk.parent.name) in new_shared.get(fk.column.table.name, ())
                                                   for fk in table.foreign_keys)]
            self.ids[name] = {}
            if name in plan.shared:
                new_shared[name] = self._match(name, table, rows)
                rows = [row for row in rows if row["id"] in new_shared[name]]
            values = [self._values(name, table, row) for row in rows]
            if name in plan.owned:
                self._avoid_collisions(table, values)
            if values:
                self.ids[name].update(zip((row["id"] for row in rows), _insert(table, values)))
        self._fix_later()
        self._fix_polymorphic()

    def _match(self, name: str, table, rows: list[dict]) -> set[int]:
        """Map the rows this instance already has (by natural key) to its ids; the old ids of the new ones."""
        key = community_data.NATURAL_KEYS[name]
        wanted = {row[key]: row["id"] for row in rows}
        existing = dict(db.session.execute(select(table.c[key], table.c.id).where(
            one_of(table.c[key], list(wanted)))).all()) if wanted else {}
        for value, old_id in wanted.items():
            if value in existing:
                self.ids[name][old_id] = existing[value]
        self.matched[name] = len(existing)
        return {old_id for value, old_id in wanted.items() if value not in existing}

    def _values(self, name: str, table, row: dict) -> dict:
        readers = _readers(table)
        values = {column_name: readers[column_name](value) for column_name, value in row.items()
                  if column_name in readers}  # not the old id, nor a column this schema no longer has
        for fk in table.foreign_keys:
            old = values.get(fk.parent.name)
            if old is not None and fk.column.table.name not in self.ids:  # its table comes later
                self.later.append((name, row["id"], fk.parent.name, fk.column.table.name, old))
                values[fk.parent.name] = None
            elif old is not None:
                new = self.ids.get(fk.column.table.name, {}).get(old)
                if new is None and not fk.parent.nullable:
                    raise ImportRefused(_("This export is damaged: a row of %(table)s refers to a row it does not "
                                          "hold.", table=name))
                values[fk.parent.name] = new
        if name == "coordinator":
            values["password_hash"] = UNUSABLE_PASSWORD
        if name == "outbound_email":
            values["idempotency_key"] = f"imported:{self.export_id}:{values['idempotency_key']}"[:255]
            if values.get("status") in ("pending", "sending"):
                values.update(status="suppressed", last_error=NOT_SENT, next_attempt_at=None)
        return values

    def _avoid_collisions(self, table, values: list[dict]) -> None:
        """A value that must be unique and that this instance already has (a meeting's calendar UID, a received
        message's Message-ID: the community was exported from here, and this is a copy) gets a prefix."""
        for column in table.columns:
            if not column.unique or column.foreign_keys or column.primary_key:
                continue
            wanted = [row[column.name] for row in values if row.get(column.name) is not None]
            taken = set(db.session.scalars(select(column).where(one_of(column, wanted)))) if wanted else set()
            for row in values:
                if row.get(column.name) in taken:
                    row[column.name] = f"copy-{self.export_id[:12]}-{row[column.name]}"[:column.type.length or None]

    def _fix_later(self) -> None:
        by_name = community_data.tables()
        for name, old_id, column, target, old in self.later:
            self._update(by_name[name], column, [{"row_id": self.ids[name][old_id], "value": self.ids[target].get(old)}])

    def _fix_polymorphic(self) -> None:
        """Point ids kept without a foreign key at the new rows (at nothing when the row is not in the export): the
        (table name, id) columns, and the ids in an email's context, which a retry would render from."""
        by_name = community_data.tables()
        for name, (kind_column, id_column) in community_data.POLYMORPHIC.items():
            changes = [{"row_id": self.ids[name][row["id"]], "value": self._new_id(row[kind_column], row[id_column])}
                       for row in self.rows.get(name) or [] if row[id_column] is not None]
            self._update(by_name[name], id_column, changes)
        for name, column in community_data.CONTEXTS.items():
            changes = [{"row_id": self.ids[name][row["id"]], "value": self._context(row[column])}
                       for row in self.rows.get(name) or [] if isinstance(row.get(column), dict)]
            self._update(by_name[name], column, changes)

    def _new_id(self, kind, old_id):
        table_name = community_data.KIND_TABLES.get(kind, kind)
        return self.ids[table_name].get(old_id) if table_name in self.ids else old_id

    def _context(self, context: dict) -> dict:
        context = dict(context)
        for key, table_name in community_data.CONTEXT_IDS.items():
            new_ids = self.ids.get(table_name, {})
            if isinstance(context.get(key), list):
                context[key] = [new_ids[old] for old in context[key] if old in new_ids]
            elif context.get(key) is not None:
                context[key] = new_ids.get(context[key])
        if context.get("object_id") is not None:
            context["object_id"] = self._new_id(context.get("object_kind"), context["object_id"])
        return context

    @staticmethod
    def _update(table, column: str, changes: list[dict]) -> None:
        if changes:  # a column stamped on update (updated_at) keeps its exported value
            kept = {other.name: other for other in table.columns if other.onupdate is not None}
            db.session.execute(table.update().where(table.c.id == bindparam("row_id"))
                               .values({**kept, column: bindparam("value")}), changes)

    def carry_suppressions(self) -> None:
        """An address the exporting instance must not mail (unsubscribed, bounced) is not mailed here either, even
        a member this instance knew before, whose own record is left as it was."""
        exported = {row["email"]: row["status"] for row in self.rows.get("member") or []}
        addresses = [email for email, status in exported.items() if status in ("unsubscribed", "bounced")]
        known = set(db.session.scalars(select(Suppression.address).where(Suppression.address.in_(addresses))))
        for address in addresses:
            if address not in known:
                db.session.add(Suppression(address=address, reason=exported[address]))
