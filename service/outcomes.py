"""Recording each delivery outcome on PostgreSQL: one prepared UPDATE per message, straight through libpq.

Delivery commits every message's outcome before the next message may be
accepted (see delivery), so this runs once per email. Through a psycopg
cursor, even prepared, the statement cost about 0.1 ms of a worker's CPU per
message in Python around the call; psycopg's own libpq binding (psycopg.pq)
sends the same prepared statement in about half that, and releases the GIL
while it waits, as the cursor does.
"""
from datetime import datetime

from psycopg import pq
from psycopg.errors import error_from_result


class PreparedOutcomes:
    """UPDATEs of `table` rows by id on one autocommit psycopg connection, a statement prepared per column set.

    Column names are our own, never input. The statements are deallocated on
    close(), since the pool keeps the connection.
    """

    def __init__(self, driver_connection, table: str):
        self._pgconn = driver_connection.pgconn
        self._encoding = driver_connection.info.encoding
        self._table = table
        self._names: dict[tuple[str, ...], bytes] = {}

    def write(self, row_id: int, values: dict) -> None:
        """Set `values` on the row `row_id`, committed when this returns; raises psycopg's error if refused."""
        columns = tuple(sorted(values))
        name = self._names.get(columns) or self._prepare(columns)
        params = [self._text(values[column]) for column in columns] + [str(row_id).encode()]
        self._check(self._pgconn.exec_prepared(name, params))

    def close(self) -> None:
        for name in self._names.values():
            self._check(self._pgconn.exec_(b"DEALLOCATE " + name))
        self._names.clear()

    def _prepare(self, columns: tuple[str, ...]) -> bytes:
        name = f"cop_outcome_{len(self._names)}".encode()
        assignments = ", ".join(f"{column} = ${number}" for number, column in enumerate(columns, start=1))
        sql = f"UPDATE {self._table} SET {assignments} WHERE id = ${len(columns) + 1}".encode()
        result = self._pgconn.prepare(name, sql)
        if result.status != pq.ExecStatus.COMMAND_OK and result.error_field(pq.DiagnosticField.SQLSTATE) == b"42P05":
            # Left on this pooled connection by a batch that never got to close(): replace it.
            self._check(self._pgconn.exec_(b"DEALLOCATE " + name))
            result = self._pgconn.prepare(name, sql)
        self._check(result)
        self._names[columns] = name
        return name

    def _text(self, value) -> bytes | None:
        """A parameter in PostgreSQL's text format (the column's type reads it)."""
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("outcome times must be aware")
            return value.isoformat().encode()
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise TypeError(f"no text format for {type(value).__name__}")
        # libpq ends a text parameter at a NUL byte, which no PostgreSQL text may hold.
        return str(value).replace("\x00", "").encode(self._encoding)

    def _check(self, result) -> None:
        if result.status != pq.ExecStatus.COMMAND_OK:
            raise error_from_result(result, encoding=self._encoding)
