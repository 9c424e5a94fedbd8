"""The bulk INSERT of new tasks rows, compiled once per dialect and fed plain DBAPI parameters.

SQLAlchemy's per-row parameter processing (every column looked up, three JSON encodings through the type system)
was about half of a create batch's Python time, and that time holds the GIL the API's event loop needs. The rows
are the store's own (rows.task_row), so nothing here needs coercing. SQLite takes the rows as an executemany
(in-process, cheap); PostgreSQL as one statement over one array per column, since psycopg's executemany costs
far more CPU per row, even pipelined.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Column, Connection, insert
from sqlalchemy.engine import Dialect

from videosynth.store.rows import JSON_COLUMNS
from videosynth.store.schema import tasks

_encode_json = json.dumps  # what SQLAlchemy's JSON type writes


class TaskInsert:
    """INSERT of whole tasks rows, built once for the engine's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self._postgres = dialect.name == "postgresql"
        compiled = insert(tasks).compile(dialect=dialect)
        self._sql = _unnest_insert(dialect) if self._postgres else str(compiled)
        self._order = compiled.positiontup  # positional paramstyles (SQLite's "?") take tuples in this order

    def __call__(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        if self._postgres:
            conn.exec_driver_sql(*self.postgres_statement(rows))
            return
        encoded = [_encoded(row) for row in rows]
        if self._order is None:
            conn.exec_driver_sql(self._sql, encoded)
        else:
            conn.exec_driver_sql(self._sql, [tuple(row[name] for name in self._order) for row in encoded])

    def postgres_statement(self, rows: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, Any]]:
        """The PostgreSQL statement and its parameters, for a caller that sends it inside a larger statement."""
        encoded = [_encoded(row) for row in rows]
        return self._sql, {column.name: [row[column.name] for row in encoded] for column in tasks.c}


def _encoded(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, **{name: _encode_json(row[name]) for name in JSON_COLUMNS}}


def _unnest_insert(dialect: Dialect) -> str:
    """INSERT … SELECT FROM unnest(one array parameter per column): any number of rows in one statement of
    one text (so prepared once). The arrays go in binary (``%(name)b``): psycopg escapes each element of a
    text-format array with a regular expression, which cost more than the executemany did. JSON travels as
    text and is cast per row."""
    names = [column.name for column in tasks.c]
    arrays = [f"CAST(%({column.name})b AS {_array_element(column, dialect)}[])" for column in tasks.c]
    picked = [f"CAST(u.{name} AS JSON)" if name in JSON_COLUMNS else f"u.{name}" for name in names]
    return (
        f"INSERT INTO tasks ({', '.join(names)}) SELECT {', '.join(picked)} "
        f"FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})"
    )


def _array_element(column: Column[Any], dialect: Dialect) -> str:
    return "TEXT" if isinstance(column.type, JSON) else column.type.compile(dialect=dialect)
