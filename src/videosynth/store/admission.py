"""The key_usage rows, one per API key (its active tasks and its rate bucket): the SQL that locks, loads, saves
and releases them. The arithmetic of admitting a create is pure (domain/admission.py).

Each row is kept exact by the transactions that change the key's tasks, so admitting a create reads one row per
key whatever the table holds, and the limits hold across API replicas: one key's admissions are serial, on
PostgreSQL through the row lock, on SQLite through the database write lock (BEGIN IMMEDIATE).

Lock order (written down only here; tests/integration/test_store_locks.py runs it against PostgreSQL):

1. A create batch locks the usage rows of all its keys first, in one statement, in key order
   (``SELECT … ORDER BY key_id FOR UPDATE``); rows missing yet (a key's first task) are inserted, in key order,
   and locked right after. After that it only reads and inserts tasks rows of its own keys: it never waits for a
   tasks row, since another transaction inserting one of those keys' rows would hold their usage rows first.
2. A writer that lowers active counts (cancel, finish, a requeue that gives up, purge) changes its tasks rows
   first and updates the usage rows last in its transaction, in key order (``release_active``); once it holds
   a usage row it waits only for later usage rows.
3. Every other write (claim, heartbeat, release, a requeue back to PENDING) never touches a usage row; a new
   key's row is inserted with the key (store/keys.py), before anyone else can know of it.

So usage rows are always taken in ascending key order, and nobody holding one waits for a tasks row: no cycle of
waits can form. SQLite has no row locks: a create batch takes the database write lock at BEGIN, every other
writer at its first write, and writers run one at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, String, any_, bindparam, case, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from videosynth.domain.admission import Admission, AdmissionRefused, KeyUsage, after_accept, refusal
from videosynth.store.schema import key_usage

_SAVE_USAGE = (
    update(key_usage)
    .where(key_usage.c.key_id == bindparam("k_id"))
    .values(active=bindparam("new_active"), rate_tat_ns=bindparam("new_tat"))
)
_SAVE_USAGE_POSTGRES = (
    "UPDATE key_usage SET active = v.active, rate_tat_ns = v.tat FROM unnest(CAST(%(k_id)b AS TEXT[]), "
    "CAST(%(new_active)b AS INTEGER[]), CAST(%(new_tat)b AS BIGINT[])) AS v(key_id, active, tat) "
    "WHERE key_usage.key_id = v.key_id"
)
_SAVE_COLUMNS = ("k_id", "new_active", "new_tat")
_RELEASE_ACTIVE = (
    update(key_usage)
    .where(key_usage.c.key_id == bindparam("k_id"))
    .values(active=case((key_usage.c.active > bindparam("n"), key_usage.c.active - bindparam("n")), else_=0))
)


class BatchUsage:
    """A create batch's keys' usage, locked for the batch and kept up to date as its items are accepted, then
    written back once."""

    def __init__(self, usage: dict[str, KeyUsage]) -> None:
        self._usage = usage
        self._changed: set[str] = set()

    @classmethod
    def lock(cls, conn: Connection, keys: Collection[str]) -> BatchUsage:
        """The usage rows of ``keys``, locked until commit (lock order: step 1 of this module's docstring)."""
        wanted = sorted(keys)
        usage = _lock_usage(conn, wanted) if wanted else {}
        missing = [key for key in wanted if key not in usage]
        if missing:  # a key's first task (keys made by the key store have a row from the start)
            conn.execute(_insert_missing_usage(conn), [new_usage_row(key) for key in missing])
            usage.update(_lock_usage(conn, missing))
        return cls(usage)

    def refusal(self, key_id: str, admission: Admission) -> AdmissionRefused | None:
        return refusal(self._usage[key_id], admission)

    def accept(self, key_id: str, admission: Admission | None) -> None:
        self._usage[key_id] = after_accept(self._usage[key_id], admission)
        self._changed.add(key_id)

    @property
    def changed(self) -> bool:
        return bool(self._changed)

    def save(self, conn: Connection) -> None:
        if not self._changed:
            return
        if conn.dialect.name == "postgresql":  # one statement, not an executemany (see store/insert.py)
            conn.exec_driver_sql(*self.postgres_update())
        else:
            conn.execute(_SAVE_USAGE, self._rows())

    def postgres_update(self) -> tuple[str, dict[str, Any]]:
        """The PostgreSQL save and its parameters, for a caller that sends it inside a larger statement."""
        rows = self._rows()
        return _SAVE_USAGE_POSTGRES, {name: [row[name] for row in rows] for name in _SAVE_COLUMNS}

    def _rows(self) -> list[dict[str, Any]]:
        rows = []
        for key in sorted(self._changed):
            usage = self._usage[key]
            rows.append({"k_id": key, "new_active": usage.active, "new_tat": usage.rate_tat_ns})
        return rows


def release_active(conn: Connection, key_ids: Collection[str]) -> None:
    """Tasks of these keys (one entry per task) left PENDING/RUNNING: each key's active count drops by its share.
    The last statement of its transaction, in key order (lock order: step 2 of this module's docstring)."""
    counts = Counter(key_ids)
    if counts:
        conn.execute(_RELEASE_ACTIVE, [{"k_id": key, "n": n} for key, n in sorted(counts.items())])


def new_usage_row(key_id: str) -> dict[str, Any]:
    """A key's usage row before its first task."""
    usage = KeyUsage()
    return {"key_id": key_id, "active": usage.active, "rate_tat_ns": usage.rate_tat_ns}


def _lock_usage(conn: Connection, keys: Sequence[str]) -> dict[str, KeyUsage]:
    query = (
        select(key_usage.c.key_id, key_usage.c.active, key_usage.c.rate_tat_ns)
        .where(_one_of(conn, key_usage.c.key_id))
        .order_by(key_usage.c.key_id)
        .with_for_update()
    )
    return {key: KeyUsage(active, tat) for key, active, tat in conn.execute(query, {"wanted": list(keys)})}


def _one_of(conn: Connection, column: ColumnElement[str]) -> ColumnElement[bool]:
    """``column`` is one of the :wanted list: on PostgreSQL ``= ANY(array)``, one statement text whatever the
    list's length (an expanding IN gives psycopg a new text, and a new prepared statement, per length)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("wanted", type_=ARRAY(String)))
    return column.in_(bindparam("wanted", expanding=True))


def _insert_missing_usage(conn: Connection) -> Insert:
    """INSERT of usage rows that leaves a row another transaction made meanwhile as it is."""
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(key_usage).on_conflict_do_nothing()
