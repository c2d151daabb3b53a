"""SQL that differs by database: the two we run on (PostgreSQL, and SQLite embedded) share one spelling here."""
import sqlite3

from sqlalchemy import any_, bindparam, event, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Engine

from service.extensions import db


def on_postgresql() -> bool:
    """Whether the session's database is PostgreSQL (else the embedded SQLite)."""
    return db.session.get_bind().dialect.name == "postgresql"


def dialect_insert(model):
    """An INSERT for `model` with ON CONFLICT support (`on_conflict_do_nothing` / `_do_update`)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - we run on PostgreSQL and SQLite only
        raise RuntimeError(f"unsupported database {dialect}")
    return insert(model)


def one_of(column, values: list):
    """SQL condition: `column` is one of `values`.

    On PostgreSQL `= ANY(array)`: one parameter however many values. An IN
    list is a placeholder per value, and the driver rewrites the whole
    statement for each different count (a delivery claim of 100 ids spent
    more time there than the database spent running it).
    """
    if on_postgresql():
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def contains_text(column, term: str):
    """SQL condition: `column` contains `term`, ignoring case (accented letters included), wildcards literal.

    PostgreSQL's ILIKE folds every letter; SQLite's LIKE and lower() fold
    ASCII only, so there the column goes through Python's casefold
    (`unicode_fold`, registered on every SQLite connection below).
    """
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if on_postgresql():
        return column.ilike(f"%{escaped}%", escape="\\")
    return func.unicode_fold(column).like(f"%{escaped.casefold()}%", escape="\\")


@event.listens_for(Engine, "connect")
def _register_unicode_fold(dbapi_connection, _record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function("unicode_fold", 1, lambda value: None if value is None else
                                         str(value).casefold(), deterministic=True)
