"""SQL that differs by database: the two we run on (PostgreSQL, and SQLite embedded) share one spelling here."""
from sqlalchemy import any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY

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
