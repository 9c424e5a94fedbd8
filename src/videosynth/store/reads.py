"""The status poll's read path: the caller's key and the task in one query, on the event loop, with no thread hop.
A create finds its caller the same way (with no task).

Polls are the API's hot path (every client asks every few seconds for minutes). Through the threadpool and the
SQLAlchemy pool a poll cost two connection checkouts, two BEGIN/ROLLBACK pairs and a thread switch, many times
the cost of the HTTP work around it. Here the statement is compiled once by SQLAlchemy
(so it stays one definition of the schema) and run on a raw DBAPI connection:

- SQLite: one connection per process in autocommit mode, queried directly on the event loop. A point lookup by
  primary key takes tens of microseconds, and under WAL a reader never waits for a writer, so blocking the loop
  that long is cheaper than any hop to a thread.
- PostgreSQL: polls that arrive together are answered by one query (coalesce.py) on a few psycopg async
  connections with server-side prepared statements; a connection that broke (a server restart, an idle reaper)
  is dropped and the query retried once on a fresh one.

A key that is revoked or unknown finds no row; a task that is unknown or another key's is NULL in the row, so
both read as "no such task" and nothing tells a caller that another key's task exists.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from sqlalchemy import Engine, Label, Select, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from videosynth.store.coalesce import Coalescer
from videosynth.store.keys import hash_secret
from videosynth.store.protocols import ApiKey, KeyAndTask, KeyTaskReader
from videosynth.store.rows import JSON_COLUMNS, row_to_task
from videosynth.store.schema import api_keys, tasks

_KEY_COLUMNS = ("key_id", "name", "prefix", "created_ms", "revoked_ms")
POSTGRES_CONNECTIONS = 4  # batches in flight per API process; more would only queue on the database's cores


def _key_columns() -> list[Label[Any]]:
    return [api_keys.c[name].label(f"k_{name}") for name in _KEY_COLUMNS]


def key_and_task_statement() -> Select[Any]:
    """The active key with this secret hash, LEFT JOINed to the task when it exists and belongs to that key."""
    owned = (tasks.c.task_id == bindparam("task_id")) & (tasks.c.key_id == api_keys.c.key_id)
    return (
        select(*_key_columns(), *tasks.c)
        .select_from(api_keys.outerjoin(tasks, owned))
        .where(api_keys.c.secret_hash == bindparam("secret_hash"), api_keys.c.revoked_ms.is_(None))
    )


_decode_json = json.JSONDecoder().decode


def _json(value: Any) -> Any:
    """A JSON column's value: SQLite hands over text (most often an empty object), psycopg a decoded value."""
    if value == "{}":
        return {}
    return _decode_json(value) if isinstance(value, str) else value


def _to_result(row: Mapping[str, Any] | None) -> KeyAndTask:
    if row is None:
        return KeyAndTask(None, None)
    key = ApiKey(**{name: row[f"k_{name}"] for name in _KEY_COLUMNS})
    if row["task_id"] is None:
        return KeyAndTask(key, None)
    return KeyAndTask(key, row_to_task({**row, **{name: _json(row[name]) for name in JSON_COLUMNS}}))


def _row(names: Sequence[str], values: Sequence[Any] | None) -> Mapping[str, Any] | None:
    return None if values is None else dict(zip(names, values, strict=True))


class SqliteKeyTaskReader:
    """One autocommit connection, used only from the event loop's thread (opened on the first lookup)."""

    def __init__(self, engine: Engine) -> None:
        compiled = key_and_task_statement().compile(dialect=engine.dialect)
        self._sql = str(compiled)
        self._order = compiled.positiontup or []
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._database: str = args[0]
        self._uri = bool(kwargs.get("uri", False))
        self._connection: sqlite3.Connection | None = None
        self._names: list[str] | None = None

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: the app's lifespan may close it from another thread than the loop's.
        connection = sqlite3.connect(self._database, uri=self._uri, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=1000")  # only WAL recovery can make a reader wait
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def find(self, secret: str, task_id: str) -> KeyAndTask:
        if self._connection is None:
            self._connection = self._connect()
        params = {"secret_hash": hash_secret(secret), "task_id": task_id}
        cursor = self._connection.execute(self._sql, [params[name] for name in self._order])
        try:
            if self._names is None:  # the statement never changes, nor do its columns
                self._names = [column[0] for column in cursor.description]
            return _to_result(_row(self._names, cursor.fetchone()))
        finally:
            cursor.close()

    async def aclose(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def batched_key_and_task_statement() -> Select[Any]:
    """key_and_task_statement for many (secret_hash, task_id) pairs at once, each row tagged with its pair's
    1-based position (``ord``); pairs whose key is unknown or revoked have no row."""
    wanted = (
        func.unnest(bindparam("secret_hashes", type_=ARRAY(String)), bindparam("task_ids", type_=ARRAY(String)))
        .table_valued("secret_hash", "task_id", with_ordinality="ord")
        .render_derived(name="wanted")
    )
    active = (api_keys.c.secret_hash == wanted.c.secret_hash) & api_keys.c.revoked_ms.is_(None)
    owned = (tasks.c.task_id == wanted.c.task_id) & (tasks.c.key_id == api_keys.c.key_id)
    return select(wanted.c.ord, *_key_columns(), *tasks.c).select_from(
        wanted.join(api_keys, active).outerjoin(tasks, owned)
    )


class PostgresKeyTaskReader:
    """Polls that arrive together share one query (coalesce.py), over a few async psycopg connections, all of
    one event loop's (the app's: it is built and closed in the app's lifespan).

    A network round trip to PostgreSQL costs the API process ~100 us of CPU in psycopg and the kernel, several
    times the rest of a poll; under load one batched query carries tens of polls.
    """

    def __init__(self, engine: Engine, connections: int = POSTGRES_CONNECTIONS, max_batch: int = 256) -> None:
        self._sql = str(batched_key_and_task_statement().compile(dialect=engine.dialect))
        _args, kwargs = engine.dialect.create_connect_args(engine.url)
        # SQLAlchemy's adapters map decodes no JSON (it does that itself); plain psycopg types suit a raw cursor.
        self._connect_kwargs = {name: value for name, value in kwargs.items() if name != "context"}
        self._batches: Coalescer[tuple[str, str], KeyAndTask] = Coalescer(self._query, connections, max_batch)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    async def find(self, secret: str, task_id: str) -> KeyAndTask:
        return await self._batches.submit((hash_secret(secret), task_id))

    async def _query(self, pairs: list[tuple[str, str]]) -> list[KeyAndTask]:
        params = {"secret_hashes": [pair[0] for pair in pairs], "task_ids": [pair[1] for pair in pairs]}
        idle = self._idle
        for attempt in range(2):
            connection = idle.pop() if idle else await self._open()
            try:
                cursor = await connection.execute(self._sql, params, prepare=True)
                names = [column.name for column in cursor.description or ()]
                rows = await cursor.fetchall()
            except psycopg.OperationalError:
                await connection.close()  # broken (server restart, reaper): never back into the pool
                if attempt:
                    raise
                continue
            except BaseException:
                await connection.close()  # in an unknown state (a cancelled await, say): do not reuse
                raise
            idle.append(connection)
            found = {row[0]: _to_result(_row(names, row)) for row in rows}
            return [found.get(index, KeyAndTask(None, None)) for index in range(1, len(pairs) + 1)]
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        # autocommit: a single SELECT needs no BEGIN/ROLLBACK round trips around it.
        return await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_kwargs)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.close()


def key_task_reader(engine: Engine) -> KeyTaskReader:
    if engine.dialect.name == "sqlite":
        return SqliteKeyTaskReader(engine)
    return PostgresKeyTaskReader(engine)
