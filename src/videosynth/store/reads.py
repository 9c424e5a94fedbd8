"""The status poll's read path: the caller's key and the task in one query, on the event loop, with no thread hop.

Polls are the API's hot path (every client asks every few seconds for minutes). Through the threadpool and the
SQLAlchemy pool a poll cost two connection checkouts, two BEGIN/ROLLBACK pairs and a thread switch, which on a
small machine was ~15x the cost of the HTTP work around it. Here the statement is compiled once by SQLAlchemy
(so it stays one definition of the schema) and run on a raw DBAPI connection:

- SQLite: one connection per process in autocommit mode, queried directly on the event loop. A point lookup by
  primary key takes tens of microseconds, and under WAL a reader never waits for a writer, so blocking the loop
  that long is cheaper than any hop to a thread.
- PostgreSQL: a small pool of psycopg async connections with server-side prepared statements; a connection that
  broke (a server restart, an idle reaper) is dropped and the query retried once on a fresh one.

A key that is revoked or unknown finds no row; a task that is unknown or another key's is NULL in the row, so
both read as "no such task" and nothing tells a caller that another key's task exists.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, Label, Select, String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from videosynth.domain.task import Task
from videosynth.store.protocols import ApiKey
from videosynth.store.schema import api_keys, tasks
from videosynth.store.sql import row_to_task

_KEY_COLUMNS = ("key_id", "name", "prefix", "created_ms", "revoked_ms")
_JSON_COLUMNS = ("request_json", "extension_json", "usage_json")
POSTGRES_CONNECTIONS = 4  # batches in flight per API process; more would only queue on the database's cores


@dataclass(frozen=True)
class KeyAndTask:
    """What one poll needs: the active key (None: unknown or revoked) and its task (None: none it may see)."""

    key: ApiKey | None
    task: Task | None


class KeyTaskReader(Protocol):
    async def find(self, secret_hash: str, task_id: str) -> KeyAndTask: ...

    async def aclose(self) -> None: ...


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


def _to_result(row: Mapping[str, Any] | None) -> KeyAndTask:
    if row is None:
        return KeyAndTask(None, None)
    key = ApiKey(**{name: row[f"k_{name}"] for name in _KEY_COLUMNS})
    if row["task_id"] is None:
        return KeyAndTask(key, None)
    decoded = {name: json.loads(row[name]) if isinstance(row[name], str) else row[name] for name in _JSON_COLUMNS}
    return KeyAndTask(key, row_to_task({**row, **decoded}))


def _row(names: Sequence[str], values: Sequence[Any] | None) -> Mapping[str, Any] | None:
    return None if values is None else dict(zip(names, values, strict=True))


class SqliteKeyTaskReader:
    """One autocommit connection, used only from the event loop's thread."""

    def __init__(self, engine: Engine) -> None:
        compiled = key_and_task_statement().compile(dialect=engine.dialect)
        self._sql = str(compiled)
        self._order = compiled.positiontup or []
        args, kwargs = engine.dialect.create_connect_args(engine.url)
        self._database: str = args[0]
        self._uri = bool(kwargs.get("uri", False))
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        # check_same_thread off: the app may be built on another thread than the loop that serves it.
        connection = sqlite3.connect(self._database, uri=self._uri, check_same_thread=False, isolation_level=None)
        connection.execute("PRAGMA busy_timeout=1000")  # only WAL recovery can make a reader wait
        connection.execute("PRAGMA query_only=ON")
        return connection

    async def find(self, secret_hash: str, task_id: str) -> KeyAndTask:
        if self._connection is None:
            self._connection = self._connect()
        params = {"secret_hash": secret_hash, "task_id": task_id}
        cursor = self._connection.execute(self._sql, [params[name] for name in self._order])
        try:
            names = [column[0] for column in cursor.description]
            return _to_result(_row(names, cursor.fetchone()))
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


@dataclass
class _Waiting:
    secret_hash: str
    task_id: str
    future: asyncio.Future[KeyAndTask]


@dataclass
class _LoopState:
    """Per event loop: the polls waiting for a query, idle connections, how many batches run now."""

    loop: asyncio.AbstractEventLoop
    waiting: list[_Waiting] = field(default_factory=list)
    idle: list[psycopg.AsyncConnection[Any]] = field(default_factory=list)
    running: set[asyncio.Task[None]] = field(default_factory=set)


class PostgresKeyTaskReader:
    """Polls that arrive together share one query (the request-coalescing a DataLoader does).

    A network round trip to PostgreSQL costs the API process ~100 us of CPU in psycopg and the kernel, several
    times the rest of a poll. So each poll joins a waiting list, and up to ``connections`` batches run at
    once, each taking everything waiting when it starts: under load a batch carries tens of polls, when idle a
    poll is a batch of one with no added delay. Each answer still comes from a query that started after its
    request arrived, so nothing is served stale.
    """

    def __init__(self, engine: Engine, connections: int = POSTGRES_CONNECTIONS, max_batch: int = 256) -> None:
        self._sql = str(batched_key_and_task_statement().compile(dialect=engine.dialect))
        _args, kwargs = engine.dialect.create_connect_args(engine.url)
        # SQLAlchemy's adapters map decodes no JSON (it does that itself); plain psycopg types suit a raw cursor.
        self._connect_kwargs = {name: value for name, value in kwargs.items() if name != "context"}
        self._connections = connections
        self._max_batch = max_batch
        self._state: _LoopState | None = None

    def _bound(self) -> _LoopState:
        """Connections belong to one event loop; a reader used from a new loop (tests) starts afresh."""
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            if self._state is not None:
                for connection in self._state.idle:
                    connection.pgconn.finish()  # synchronous: the loop they belonged to may be gone
            self._state = _LoopState(loop)
        return self._state

    async def find(self, secret_hash: str, task_id: str) -> KeyAndTask:
        state = self._bound()
        waiting = _Waiting(secret_hash, task_id, state.loop.create_future())
        state.waiting.append(waiting)
        if len(state.running) < self._connections:
            runner = state.loop.create_task(self._run_batches(state))
            state.running.add(runner)  # a strong reference until it ends (asyncio keeps only weak ones)
            runner.add_done_callback(state.running.discard)
        return await waiting.future

    async def _run_batches(self, state: _LoopState) -> None:
        await asyncio.sleep(0)  # one loop turn: the polls that arrived with this one join its batch
        while state.waiting:
            batch, state.waiting = state.waiting[: self._max_batch], state.waiting[self._max_batch :]
            try:
                found = await self._query(state, batch)
            except Exception as exc:
                for one in batch:
                    if not one.future.done():
                        one.future.set_exception(exc)
                continue
            for index, one in enumerate(batch, start=1):
                if not one.future.done():  # its request may have been cancelled (client gone)
                    one.future.set_result(found.get(index, KeyAndTask(None, None)))

    async def _query(self, state: _LoopState, batch: list[_Waiting]) -> dict[int, KeyAndTask]:
        params = {"secret_hashes": [one.secret_hash for one in batch], "task_ids": [one.task_id for one in batch]}
        for attempt in range(2):
            connection = state.idle.pop() if state.idle else await self._open()
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
            state.idle.append(connection)
            return {row[0]: _to_result(_row(names, row)) for row in rows}
        raise AssertionError("unreachable")  # pragma: no cover

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        # autocommit: a single SELECT needs no BEGIN/ROLLBACK round trips around it.
        return await psycopg.AsyncConnection.connect(autocommit=True, **self._connect_kwargs)

    async def aclose(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            for connection in state.idle:
                await connection.close()


def key_task_reader(engine: Engine) -> KeyTaskReader:
    if engine.dialect.name == "sqlite":
        return SqliteKeyTaskReader(engine)
    return PostgresKeyTaskReader(engine)
