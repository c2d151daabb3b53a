"""SQL that differs by database: the two we run on (PostgreSQL, and SQLite embedded) share one spelling here."""
from service.extensions import db


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
