"""Engines for the two supported databases: a SQLite file (embedded) and PostgreSQL (scale-out)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import DisconnectionError

SQLITE_BUSY_TIMEOUT_MS = 5000

# Keep as many connections open as the API's threadpool (40) can use at once: with the default pool (5 + 10
# overflow) every request beyond 5 concurrent opened a fresh connection (SQLite: the PRAGMAs again; PostgreSQL: a
# new backend process) and dropped it afterwards, which cost more than the queries themselves.
POOL = {"pool_size": 20, "max_overflow": 20}

# WAL lets API readers poll while a worker writes; NORMAL is durable enough under WAL (a power cut can lose
# the last commits, never corrupt the file); busy_timeout (set per engine, see make_engine) makes a writer wait
# for the lock instead of failing.
# SQLite's own checkpoint-on-commit only past 40,000 pages (~160 MB): the API process copies the WAL in the
# background (checkpoint.py), so a commit rarely does. Under a steady write load the log restarts only through
# this backstop (see checkpoint.py), a short stall each time, so it is set high: a busy API then stalls a few
# times less often, which the create p99 showed. After a restart the file is cut back to 64 MB.
WAL_BACKSTOP_PAGES = 40_000
WAL_FILE_LIMIT_BYTES = 64 << 20
_SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    "synchronous=NORMAL",
    f"wal_autocheckpoint={WAL_BACKSTOP_PAGES}",
    f"journal_size_limit={WAL_FILE_LIMIT_BYTES}",
)


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite gets its pragmas and BEGIN handling (a writer waits up to
    SQLITE_BUSY_TIMEOUT_MS for the write lock), anything else a pinged pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(parsed, **POOL)
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A connection that sat unused this long is pinged before use: a PostgreSQL restart or an idle-connection reaper
# must not surface as a failed request. One in steady use is not: SQLAlchemy's pool_pre_ping pinged on every
# checkout, a round trip per create batch, a measurable share of PostgreSQL create throughput.
IDLE_PING_S = 1.0


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    if time.monotonic() - record.info.get("idle_since", 0.0) < IDLE_PING_S:
        return
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
    except Exception as exc:  # the pool drops this connection and checks out another (or a new one)
        raise DisconnectionError(f"stale connection: {type(exc).__name__}") from exc


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **POOL) if database not in (None, "", ":memory:") else create_engine(url)
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Turn off the sqlite3 module's own BEGIN handling (it skips SELECT and DDL); _on_sqlite_begin emits BEGIN
    # for every transaction instead, so reads are consistent and migrations are transactional.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so switching to WAL (which needs a lock) waits too.
        for pragma in (f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}", *_SQLITE_PRAGMAS):
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


# Execution option naming the BEGIN mode of an engine's transactions on SQLite (see ``immediate``).
SQLITE_BEGIN_OPTION = "videosynth_sqlite_begin"


def immediate(engine: Engine) -> Engine:
    """The same engine (and pool) whose SQLite transactions take the write lock at BEGIN: for a transaction
    that reads before it writes. Deferred, its first write could not wait for the lock (SQLite answers BUSY at
    once when another connection wrote since the read); IMMEDIATE waits up to busy_timeout at BEGIN instead.
    PostgreSQL ignores the option."""
    return engine.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})


def _on_sqlite_begin(connection: Any) -> None:
    # Deferred BEGIN by default: a transaction that starts with a write takes the write lock on that first
    # statement (waiting up to busy_timeout), so the store's other writes lead their transaction.
    mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())
