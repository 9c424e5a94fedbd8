"""TaskStore and KeyStore on SQLAlchemy Core, one implementation for SQLite and PostgreSQL.

Every state change is a single guarded UPDATE (``WHERE status = <from> [AND lease_owner = <worker>]``) whose
row count says whether it won, so racing writers (two claimers, cancel vs claim, finish vs requeue) cannot
both win. Each write transaction starts with its write, which on SQLite takes the write lock up front.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    String,
    Update,
    any_,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert, ReturningDelete

from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import FINAL_STATUSES, Task, TaskStatus
from videosynth.store import migrate
from videosynth.store.engine import immediate, make_engine
from videosynth.store.protocols import (
    Admission,
    AdmissionRefused,
    ApiKey,
    CreateOutcome,
    IdempotencyConflict,
    NewTask,
    Purged,
    TaskPage,
    UnknownCaller,
)
from videosynth.store.schema import api_keys, key_usage, tasks

# On PostgreSQL, SKIP LOCKED with LIMIT 1 can come back empty while another claimer holds the only candidate
# row it saw; a few immediate retries tell "lost a race" from "queue empty".
_CLAIM_TRIES = 5

_NO_LEASE: Mapping[str, None] = {"lease_owner": None, "lease_expires_ms": None}

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def row_to_task(row: Mapping[Any, Any]) -> Task:
    """The one place a tasks row becomes a Task."""
    return Task(
        task_id=row["task_id"],
        key_id=row["key_id"],
        request=GenerationRequest.from_dict(row["request_json"]),
        status=TaskStatus(row["status"]),
        submit_ms=row["submit_ms"],
        request_id=row["request_id"],
        seed=row["seed"],
        scheduled_ms=row["scheduled_ms"],
        end_ms=row["end_ms"],
        progress=row["progress"],
        attempts=row["attempts"],
        result_key=row["result_key"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        actual_prompt=row["actual_prompt"],
        extension=dict(row["extension_json"] or {}),
        usage=dict(row["usage_json"] or {}),
        backend_state=dict(row["backend_state_json"] or {}),
    )


def _task_row(task: Task, idempotency_key: str | None, request_hash: str | None) -> dict[str, Any]:
    return {
        "task_id": task.task_id,
        "key_id": task.key_id,
        "model": task.request.model,
        "status": task.status.value,
        "request_json": task.request.to_dict(),
        "seed": task.seed,
        "request_id": task.request_id,
        "submit_ms": task.submit_ms,
        "scheduled_ms": task.scheduled_ms,
        "end_ms": task.end_ms,
        "progress": task.progress,
        "attempts": task.attempts,
        "lease_owner": None,
        "lease_expires_ms": None,
        "result_key": task.result_key,
        "error_code": task.error_code,
        "error_message": task.error_message,
        "actual_prompt": task.actual_prompt,
        "extension_json": task.extension,
        "usage_json": task.usage,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "updated_ms": task.submit_ms,
        "backend_state_json": task.backend_state,
    }


def _same_request(existing: RowMapping, request_hash: str | None) -> Task | IdempotencyConflict:
    """The task a retry is answered with, or the conflict when the Idempotency-Key came with another body."""
    if existing["request_hash"] != request_hash:
        return IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body; use a new key for a new request."
        )
    return row_to_task(existing)


class SqlTaskStore:
    """TaskStore over a SQLAlchemy engine; ``clock`` stamps updated_ms where the protocol gives no time."""

    def __init__(self, engine: Engine, clock: Clock = wall_clock_ms) -> None:
        self._engine = engine
        self._immediate = immediate(engine)
        self._insert = _TaskInsert(engine.dialect)
        self._clock = clock

    # --- submit / read -------------------------------------------------------------------------------------

    def create(
        self,
        task: Task,
        idempotency_key: str | None = None,
        request_hash: str | None = None,
        admission: Admission | None = None,
    ) -> Task:
        [outcome] = self.create_many([NewTask(task, idempotency_key, request_hash, admission)])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        for item in items:
            if item.task.status is not TaskStatus.PENDING:
                raise ValueError(f"New tasks are PENDING, got {item.task.status.value} for {item.task.task_id}.")
        # One transaction (one commit) for the batch, and a few statements for all of it: each item's retry
        # lookup and limits see the state its predecessors left, exactly as if they had come one by one.
        with self._immediate.begin() as conn:
            callers, locked = _with_callers(conn, items)
            usage = _KeyUsage.load(conn, [item for item in callers if isinstance(item, NewTask)], locked)
            bulk: list[dict[str, Any]] = []  # new tasks without an Idempotency-Key: one multi-row insert
            outcomes = [
                item if isinstance(item, UnknownCaller) else _create_one(conn, item, usage, bulk, self._insert)
                for item in callers
            ]
            if bulk and usage.changed and conn.dialect.name == "postgresql":
                # One round trip for both writes: on a busy API each one costs the writer thread a wait for the GIL.
                usage_sql, usage_params = usage.postgres_update()
                insert_sql, insert_params = self._insert.postgres_statement(bulk)
                conn.exec_driver_sql(f"WITH new_tasks AS ({insert_sql}) {usage_sql}", insert_params | usage_params)
            else:
                if bulk:
                    self._insert(conn, bulk)
                usage.save(conn)
            return outcomes

    def get(self, task_id: str) -> Task | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(tasks).where(tasks.c.task_id == task_id)).mappings().first()
        return None if row is None else row_to_task(row)

    def list(
        self,
        key_id: str,
        page_no: int,
        page_size: int,
        status: TaskStatus | None = None,
        model: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> TaskPage:
        if page_no < 1 or page_size < 1:
            raise ValueError(f"page_no and page_size start at 1, got {page_no} and {page_size}.")
        where = _listing_filter(key_id, status, model, start_ms, end_ms)
        page = (
            select(tasks)
            .where(*where)
            .order_by(tasks.c.submit_ms.desc(), tasks.c.task_id.desc())
            .limit(page_size)
            .offset((page_no - 1) * page_size)
        )
        with self._engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(tasks).where(*where)).scalar_one()
            rows = conn.execute(page).mappings().all()
        return TaskPage(tasks=[row_to_task(row) for row in rows], total=total)

    def count_active(self, key_id: str) -> int:
        query = select(func.count()).select_from(tasks).where(tasks.c.key_id == key_id, tasks.c.status.in_(_ACTIVE))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def count_pending(self, model: str | None = None) -> int:
        models = None if model is None else [model]
        query = select(func.count()).select_from(tasks).where(*_pending_filter(models))
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def cancel(self, task_id: str, key_id: str, now_ms: int) -> Task | None:
        mine = (tasks.c.task_id == task_id, tasks.c.key_id == key_id)
        with self._engine.begin() as conn:
            canceled = conn.execute(
                update(tasks)
                .where(*mine, tasks.c.status == TaskStatus.PENDING.value)
                .values(status=TaskStatus.CANCELED.value, end_ms=now_ms, updated_ms=now_ms)
            ).rowcount
            row = conn.execute(select(tasks).where(*mine)).mappings().first()
            if canceled:
                _release_active(conn, [key_id])
        return None if row is None else row_to_task(row)

    # --- worker side ---------------------------------------------------------------------------------------

    def claim(self, worker_id: str, models: Collection[str] | None, now_ms: int, lease_s: float) -> Task | None:
        if models is not None and not models:
            return None
        statement = _claim_statement(worker_id, None if models is None else list(models), now_ms, lease_s)
        for _ in range(_CLAIM_TRIES):
            with self._engine.begin() as conn:
                row = conn.execute(statement).mappings().first()
            if row is not None:
                return row_to_task(row)
            if not self._has_pending(models):
                return None
        return None

    def heartbeat(self, task_id: str, worker_id: str, now_ms: int, lease_s: float, progress: int | None = None) -> bool:
        values: dict[str, Any] = {"lease_expires_ms": now_ms + _ms(lease_s), "updated_ms": now_ms}
        if progress is not None:
            # Monotone: a late or reordered heartbeat never moves the bar backwards.
            reported = min(max(progress, 0), 100)
            values["progress"] = case((tasks.c.progress < reported, reported), else_=tasks.c.progress)
        return self._update_owned(task_id, worker_id, values)

    def save_backend_state(self, task_id: str, worker_id: str, state: dict[str, Any]) -> bool:
        return self._update_owned(task_id, worker_id, {"backend_state_json": state, "updated_ms": self._clock()})

    def finish_success(
        self,
        task_id: str,
        worker_id: str,
        now_ms: int,
        result_key: str,
        usage: dict[str, Any],
        actual_prompt: str | None = None,
        extension: dict[str, Any] | None = None,
    ) -> bool:
        values: dict[str, Any] = {
            "status": TaskStatus.SUCCEEDED.value,
            "end_ms": now_ms,
            "updated_ms": now_ms,
            "progress": 100,
            "result_key": result_key,
            "usage_json": usage,
            # lease_owner stays: it records which worker made the video.
            "lease_expires_ms": None,
        }
        if actual_prompt is not None:
            values["actual_prompt"] = actual_prompt
        if extension is not None:
            values["extension_json"] = extension
        return self._update_owned(task_id, worker_id, values)

    def finish_failure(self, task_id: str, worker_id: str, now_ms: int, code: str, message: str) -> bool:
        values = {
            "status": TaskStatus.FAILED.value,
            "end_ms": now_ms,
            "updated_ms": now_ms,
            "error_code": code,
            "error_message": message,
            "lease_expires_ms": None,
        }
        return self._update_owned(task_id, worker_id, values)

    def release(self, task_id: str, worker_id: str) -> bool:
        values = {
            "status": TaskStatus.PENDING.value,
            "progress": 0,
            # A graceful shutdown is not the task's fault: give the claim back.
            "attempts": case((tasks.c.attempts > 0, tasks.c.attempts - 1), else_=0),
            "updated_ms": self._clock(),
            **_NO_LEASE,
        }
        return self._update_owned(task_id, worker_id, values)

    def requeue_expired(self, now_ms: int, max_attempts: int) -> int:
        expired = (tasks.c.status == TaskStatus.RUNNING.value, tasks.c.lease_expires_ms < now_ms)
        give_up = (
            update(tasks)
            .where(*expired, tasks.c.attempts >= max_attempts)
            .values(
                status=TaskStatus.FAILED.value,
                end_ms=now_ms,
                updated_ms=now_ms,
                error_code="InternalError",
                error_message=_abandoned_message(),
                **_NO_LEASE,
            )
            .returning(tasks.c.key_id)
        )
        retry = (
            update(tasks)
            .where(*expired, tasks.c.attempts < max_attempts)
            .values(status=TaskStatus.PENDING.value, progress=0, updated_ms=now_ms, **_NO_LEASE)
        )
        with self._engine.begin() as conn:
            failed = conn.execute(give_up).scalars().all()
            retried = int(conn.execute(retry).rowcount)
            _release_active(conn, failed)
        return len(failed) + retried

    # --- retention -----------------------------------------------------------------------------------------

    def purge_expired(self, before_ms: int, limit: int) -> Purged:
        if limit < 1:
            raise ValueError(f"limit starts at 1, got {limit}.")
        with self._engine.begin() as conn:
            rows = conn.execute(_purge_statement(before_ms, limit)).all()
            _release_active(conn, [row.key_id for row in rows if row.status == TaskStatus.PENDING.value])
        return [(row.task_id, row.result_key) for row in rows]

    # --- helpers -------------------------------------------------------------------------------------------

    def _update_owned(self, task_id: str, worker_id: str, values: Mapping[str, Any]) -> bool:
        """Apply ``values`` to a task only while it is RUNNING under this worker's lease; True when it won.

        A lease past its expiry that requeue_expired has not reclaimed yet still counts: nobody else can hold
        the task, so the worker's late heartbeat or result is kept rather than thrown away."""
        statement: Update = (
            update(tasks)
            .where(
                tasks.c.task_id == task_id,
                tasks.c.status == TaskStatus.RUNNING.value,
                tasks.c.lease_owner == worker_id,
            )
            .values(dict(values))
            .returning(tasks.c.key_id)
        )
        with self._engine.begin() as conn:
            key_id = conn.execute(statement).scalar_one_or_none()
            if key_id is not None and values.get("status") in _FINAL_VALUES:
                _release_active(conn, [key_id])
        return key_id is not None

    def _has_pending(self, models: Collection[str] | None) -> bool:
        query = select(tasks.c.task_id).where(*_pending_filter(models)).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None


class _TaskInsert:
    """INSERT of whole tasks rows with plain DBAPI parameters, built once for the engine's dialect.

    SQLAlchemy's per-row parameter processing (every column looked up, three JSON encodings through the type
    system) was about half of a create batch's Python time, and that time holds the GIL the API's event loop
    needs. The rows are the store's own (_task_row), so nothing here needs coercing. SQLite takes the rows as
    an executemany (in-process, cheap); PostgreSQL as one statement over one array per column, since psycopg's
    executemany costs ~100 us of CPU per row even pipelined."""

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
        encoded = [_encoded(row) for row in rows]
        return self._sql, {column.name: [row[column.name] for row in encoded] for column in tasks.c}


def _encoded(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row, **{name: _encode_json(row[name]) for name in _JSON_COLUMNS}}


def _unnest_insert(dialect: Dialect) -> str:
    """INSERT … SELECT FROM unnest(one array parameter per column): any number of rows in one statement of
    one text (so prepared once). The arrays go in binary (``%(name)b``): psycopg escapes each element of a
    text-format array with a regular expression, which cost more than the executemany did. JSON travels as
    text and is cast per row."""
    names = [column.name for column in tasks.c]
    arrays = [f"CAST(%({column.name})b AS {_array_element(column, dialect)}[])" for column in tasks.c]
    picked = [f"CAST(u.{name} AS JSON)" if name in _JSON_COLUMNS else f"u.{name}" for name in names]
    return (
        f"INSERT INTO tasks ({', '.join(names)}) SELECT {', '.join(picked)} "
        f"FROM unnest({', '.join(arrays)}) AS u({', '.join(names)})"
    )


def _array_element(column: Column[Any], dialect: Dialect) -> str:
    return "TEXT" if isinstance(column.type, JSON) else column.type.compile(dialect=dialect)


_JSON_COLUMNS = tuple(column.name for column in tasks.c if isinstance(column.type, JSON))
_encode_json = json.dumps  # what SQLAlchemy's JSON type writes
_ACTIVE = (TaskStatus.PENDING.value, TaskStatus.RUNNING.value)
_FINAL_VALUES = frozenset(status.value for status in FINAL_STATUSES)


def _by_idempotency_key(conn: Connection, key_id: str, idempotency_key: str) -> RowMapping | None:
    query = select(tasks).where(tasks.c.key_id == key_id, tasks.c.idempotency_key == idempotency_key)
    return conn.execute(query).mappings().first()


@dataclass
class _KeyUsage:
    """The batch's keys' usage rows, locked for the batch and kept up to date as its items are accepted, then
    written back once. One row per key (schema.key_usage): the cost of admission does not grow with the tasks
    a key has.

    The rate limit is a token bucket in GCRA form: a key may create ``max_per_minute`` tasks at once, then one
    every 60 s / max_per_minute; its whole state is the time the bucket is full again (``tat``)."""

    active: dict[str, int]
    tat_ns: dict[str, int]
    changed: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, conn: Connection, items: Sequence[NewTask], locked: Mapping[str, tuple[int, int]]) -> _KeyUsage:
        """The usage rows of the items' keys: ``locked`` (already read and locked), the others locked here."""
        keys = sorted({item.task.key_id for item in items} - locked.keys())
        rows = {**locked, **_lock_usage(conn, keys)} if keys else dict(locked)
        missing = [key for key in keys if key not in rows]
        if missing:  # a key's first task (keys made by the key store have a row from the start)
            conn.execute(_insert_missing_usage(conn), [_fresh_usage(key) for key in missing])
            rows.update(_lock_usage(conn, missing))
        return cls({key: row[0] for key, row in rows.items()}, {key: row[1] for key, row in rows.items()})

    def refusal(self, key_id: str, admission: Admission) -> AdmissionRefused | None:
        now_ns, interval_ns = admission.now_ms * 1_000_000, _rate_interval_ns(admission.max_per_minute)
        if max(self.tat_ns[key_id], now_ns) - now_ns > RATE_WINDOW_NS - interval_ns:
            return AdmissionRefused("rate", admission.max_per_minute, admission.max_per_minute)
        active = self.active[key_id]
        if active >= admission.max_active:
            return AdmissionRefused("active", active, admission.max_active)
        return None

    def accepted(self, key_id: str, admission: Admission | None) -> None:
        self.active[key_id] += 1
        if admission is not None:
            now_ns = admission.now_ms * 1_000_000
            self.tat_ns[key_id] = max(self.tat_ns[key_id], now_ns) + _rate_interval_ns(admission.max_per_minute)
        self.changed.add(key_id)

    def save(self, conn: Connection) -> None:
        if not self.changed:
            return
        if conn.dialect.name == "postgresql":  # one statement, not an executemany (see _TaskInsert)
            conn.exec_driver_sql(*self.postgres_update())
        else:
            conn.execute(_SAVE_USAGE, self._rows())

    def postgres_update(self) -> tuple[str, dict[str, Any]]:
        rows = self._rows()
        return _SAVE_USAGE_POSTGRES, {name: [row[name] for row in rows] for name in ("k_id", "new_active", "new_tat")}

    def _rows(self) -> list[dict[str, Any]]:
        return [
            {"k_id": key, "new_active": self.active[key], "new_tat": self.tat_ns[key]} for key in sorted(self.changed)
        ]


RATE_WINDOW_NS = 60 * 1_000_000_000


def _rate_interval_ns(max_per_minute: int) -> int:
    return RATE_WINDOW_NS // max_per_minute


def _lock_usage(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[int, int]]:
    """The usage rows of ``keys`` (sorted), locked until commit on PostgreSQL: one key's admissions are serial
    across API replicas, as SQLite's BEGIN IMMEDIATE makes them. Locked in key order, so batches cannot
    deadlock; the other writers of these rows (``_release_active``) take them last in their transaction."""
    query = (
        select(key_usage.c.key_id, key_usage.c.active, key_usage.c.rate_tat_ns)
        .where(_one_of(conn, key_usage.c.key_id))
        .order_by(key_usage.c.key_id)
        .with_for_update()
    )
    return {key: (active, tat) for key, active, tat in conn.execute(query, {"wanted": list(keys)})}


def _one_of(conn: Connection, column: ColumnElement[str]) -> ColumnElement[bool]:
    """``column`` is one of the :wanted list: on PostgreSQL ``= ANY(array)``, one statement text whatever the
    list's length (an expanding IN gives psycopg a new text, and a new prepared statement, per length)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("wanted", type_=ARRAY(String)))
    return column.in_(bindparam("wanted", expanding=True))


def _fresh_usage(key_id: str) -> dict[str, Any]:
    return {"key_id": key_id, "active": 0, "rate_tat_ns": 0}


def _insert_missing_usage(conn: Connection) -> Insert:
    """INSERT of usage rows that leaves a row another transaction made meanwhile as it is."""
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(key_usage).on_conflict_do_nothing()


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
_RELEASE_ACTIVE = (
    update(key_usage)
    .where(key_usage.c.key_id == bindparam("k_id"))
    .values(active=case((key_usage.c.active > bindparam("n"), key_usage.c.active - bindparam("n")), else_=0))
)


def _release_active(conn: Connection, key_ids: Collection[str]) -> None:
    """Tasks of these keys (one entry per task) left PENDING/RUNNING: each key's active count drops by its
    share. The last statement of its transaction, in key order: whoever holds usage rows never waits for a
    task row, so these waits cannot close a cycle."""
    counts = Counter(key_ids)
    if counts:
        conn.execute(_RELEASE_ACTIVE, [{"k_id": key, "n": n} for key, n in sorted(counts.items())])


def _with_callers(
    conn: Connection, items: Sequence[NewTask]
) -> tuple[list[NewTask | UnknownCaller], dict[str, tuple[int, int]]]:
    """Each item with its task's key_id set from its secret_hash's active key, or UnknownCaller (items without
    a secret_hash as they are); and those keys' usage rows, locked. One query for the batch: the callers and
    their usage rows together, in key order (see _lock_usage); a key without a usage row yet is looked up apart,
    and its row made by _KeyUsage.load."""
    hashes = sorted({item.secret_hash for item in items if item.secret_hash is not None})
    if not hashes:
        return list(items), {}
    callers = (
        select(api_keys.c.secret_hash, key_usage.c.key_id, key_usage.c.active, key_usage.c.rate_tat_ns)
        .join_from(key_usage, api_keys, api_keys.c.key_id == key_usage.c.key_id)
        .where(_one_of(conn, api_keys.c.secret_hash), api_keys.c.revoked_ms.is_(None))
        .order_by(key_usage.c.key_id)
        .with_for_update(of=key_usage)
    )
    key_ids: dict[str, str] = {}
    usage: dict[str, tuple[int, int]] = {}
    for secret_hash, key_id, active, tat in conn.execute(callers, {"wanted": hashes}):
        key_ids[secret_hash], usage[key_id] = key_id, (active, tat)
    rest = [secret_hash for secret_hash in hashes if secret_hash not in key_ids]
    if rest:  # unknown or revoked, or a key older than its usage row (migration 0004 made rows for all then)
        active_keys = select(api_keys.c.secret_hash, api_keys.c.key_id).where(
            _one_of(conn, api_keys.c.secret_hash), api_keys.c.revoked_ms.is_(None)
        )
        key_ids.update({secret_hash: key_id for secret_hash, key_id in conn.execute(active_keys, {"wanted": rest})})
    return [_with_caller(item, key_ids) for item in items], usage


def _with_caller(item: NewTask, key_ids: Mapping[str, str]) -> NewTask | UnknownCaller:
    if item.secret_hash is None:
        return item
    key_id = key_ids.get(item.secret_hash)
    if key_id is None:
        return UnknownCaller()
    return replace(item, task=replace(item.task, key_id=key_id), secret_hash=None)


def _create_one(
    conn: Connection, item: NewTask, usage: _KeyUsage, bulk: list[dict[str, Any]], insert_tasks: _TaskInsert
) -> CreateOutcome:
    task, idempotency_key = item.task, item.idempotency_key
    if idempotency_key is not None:
        existing = _by_idempotency_key(conn, task.key_id, idempotency_key)
        if existing is not None:  # a client's retry: answered whatever the limits say now
            return _same_request(existing, item.request_hash)
    if item.admission is not None:
        refused = usage.refusal(task.key_id, item.admission)
        if refused is not None:
            return refused
    row = _task_row(task, idempotency_key, item.request_hash)
    if idempotency_key is None:
        bulk.append(row)
    else:
        try:
            with conn.begin_nested():  # PostgreSQL: a failed insert must not abort the batch's transaction
                insert_tasks(conn, [row])
        except IntegrityError:
            # Another process's create with the same Idempotency-Key committed first: answer as its retry would.
            existing = _by_idempotency_key(conn, task.key_id, idempotency_key)
            if existing is None:
                raise
            return _same_request(existing, item.request_hash)
    usage.accepted(task.key_id, item.admission)
    return task


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _pending_filter(models: Collection[str] | None) -> list[ColumnElement[bool]]:
    where = [tasks.c.status == TaskStatus.PENDING.value]
    if models is not None:
        where.append(tasks.c.model.in_(list(models)))
    return where


def _claim_statement(worker_id: str, models: list[str] | None, now_ms: int, lease_s: float) -> Update:
    # PostgreSQL: the subquery locks the oldest eligible row and skips rows other claimers hold, so claimers
    # never queue behind each other. SQLite renders no FOR UPDATE; there the UPDATE takes the database write
    # lock before its subquery reads, so the read and the write are one atomic step. The outer status guard
    # keeps the statement correct even if neither held.
    # Fair share: serve first the key whose last claim is oldest (never-served keys first), FIFO within a key.
    # One key with 100 queued tasks then alternates with another key's single task instead of starving it.
    served = tasks.alias("served")
    last_served = (
        select(func.coalesce(func.max(served.c.scheduled_ms), 0))
        .where(served.c.key_id == tasks.c.key_id)
        .scalar_subquery()
    )
    oldest = (
        select(tasks.c.task_id)
        .where(*_pending_filter(models))
        # A task whose worker died goes first: it has waited longest and its client already saw it RUNNING.
        .order_by((tasks.c.attempts == 0), last_served, tasks.c.submit_ms, tasks.c.task_id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(tasks)
        .where(tasks.c.task_id == oldest, tasks.c.status == TaskStatus.PENDING.value)
        .values(
            status=TaskStatus.RUNNING.value,
            lease_owner=worker_id,
            lease_expires_ms=now_ms + _ms(lease_s),
            attempts=tasks.c.attempts + 1,
            # Typed bind: an untyped Python int is sent to PostgreSQL as INTEGER, too small for epoch ms.
            scheduled_ms=func.coalesce(tasks.c.scheduled_ms, literal(now_ms, BigInteger)),
            progress=0,
            updated_ms=now_ms,
        )
        .returning(*tasks.c)
    )


# PENDING too: past retention it reads UNKNOWN, so a worker must not spend a GPU on it. Never RUNNING: a worker
# holds it (it is purged on a later sweep, once final).
_PURGEABLE_VALUES = sorted(status.value for status in (*FINAL_STATUSES, TaskStatus.PENDING))


def _purge_statement(before_ms: int, limit: int) -> ReturningDelete[str, str | None, str, str]:
    # One DELETE … RETURNING: it leads its transaction (on SQLite it takes the write lock at once) and reports
    # only the rows it removed. The CTE picks a bounded batch, oldest first; on PostgreSQL SKIP LOCKED lets
    # concurrent sweepers take disjoint batches instead of queueing, and MATERIALIZED makes the batch be chosen
    # once: as a plain IN (subquery) the planner may rescan it once per candidate row, and each rescan, skipping
    # the rows this statement already deleted, adds a fresh batch, so LIMIT would bound nothing. The outer WHERE
    # repeats every condition, so a row that changed between the batch's read and the delete is left alone.
    expired = (
        tasks.c.status.in_(_PURGEABLE_VALUES),
        # Typed bind, as in _claim_statement: epoch ms do not fit PostgreSQL's INTEGER.
        tasks.c.submit_ms < literal(before_ms, BigInteger),
    )
    batch = (
        select(tasks.c.task_id)
        .where(*expired)
        .order_by(tasks.c.submit_ms, tasks.c.task_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("purge_batch")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        delete(tasks)
        .where(tasks.c.task_id.in_(select(batch.c.task_id)), *expired)
        .returning(tasks.c.task_id, tasks.c.result_key, tasks.c.key_id, tasks.c.status)
    )


def _abandoned_message() -> ColumnElement[str]:
    # Built in SQL so one UPDATE fails every exhausted task with its own attempt count.
    count = cast(tasks.c.attempts, String) + literal(" times")
    times = case((tasks.c.attempts == 1, literal("once")), else_=count)
    return literal("The task was abandoned by its worker ") + times + literal(" (lease expired); giving up.")


def _listing_filter(
    key_id: str, status: TaskStatus | None, model: str | None, start_ms: int | None, end_ms: int | None
) -> list[ColumnElement[bool]]:
    where = [tasks.c.key_id == key_id]
    if status is not None:
        where.append(tasks.c.status == status.value)
    if model is not None:
        where.append(tasks.c.model == model)
    if start_ms is not None:
        where.append(tasks.c.submit_ms >= start_ms)
    if end_ms is not None:
        where.append(tasks.c.submit_ms <= end_ms)
    return where


# --- API keys -----------------------------------------------------------------------------------------------

SECRET_PREFIX = "sk-"
_SHOWN_PREFIX_CHARS = 8


def hash_secret(secret: str) -> str:
    # The secrets are 256-bit random, so a fast unsalted hash cannot be brute-forced and keeps lookup indexed.
    return hashlib.sha256(secret.encode()).hexdigest()


def _row_to_key(row: RowMapping) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        prefix=row["prefix"],
        created_ms=row["created_ms"],
        revoked_ms=row["revoked_ms"],
    )


class SqlKeyStore:
    """KeyStore over a SQLAlchemy engine; only sha256(secret) is ever written."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, now_ms: int) -> tuple[ApiKey, str]:
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            key_id=uuid.uuid4().hex[:16],
            name=name,
            prefix=secret[len(SECRET_PREFIX) : len(SECRET_PREFIX) + _SHOWN_PREFIX_CHARS],
            created_ms=now_ms,
        )
        row = {
            "key_id": key.key_id,
            "name": key.name,
            "prefix": key.prefix,
            "secret_hash": hash_secret(secret),
            "created_ms": key.created_ms,
            "revoked_ms": None,
        }
        with self._engine.begin() as conn:
            conn.execute(insert(api_keys).values(row))
            conn.execute(insert(key_usage).values(_fresh_usage(key.key_id)))
        return key, secret

    def list(self) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_ms, api_keys.c.key_id)
        with self._engine.connect() as conn:
            return [_row_to_key(row) for row in conn.execute(query).mappings()]

    def revoke(self, key_id_or_name: str, now_ms: int) -> int:
        statement = (
            update(api_keys)
            .where(
                (api_keys.c.key_id == key_id_or_name) | (api_keys.c.name == key_id_or_name),
                api_keys.c.revoked_ms.is_(None),
            )
            .values(revoked_ms=now_ms)
        )
        with self._engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def authenticate(self, secret: str) -> ApiKey | None:
        if not secret:
            return None
        # Looked up by hash, so no secret-dependent string comparison happens in Python.
        query = select(api_keys).where(api_keys.c.secret_hash == hash_secret(secret), api_keys.c.revoked_ms.is_(None))
        with self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _row_to_key(row)


def open_stores(url: str, *, upgrade_schema: bool = False) -> tuple[SqlTaskStore, SqlKeyStore, Engine]:
    """Engine plus both stores for ``url``. Refuses an out-of-date schema (SchemaOutOfDate) unless asked to
    upgrade it, which the embedded single-process default may do; scale-out runs `videosynth migrate` once."""
    engine = make_engine(url)
    try:
        if upgrade_schema:
            migrate.upgrade(engine)
        else:
            migrate.check_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlTaskStore(engine), SqlKeyStore(engine), engine
