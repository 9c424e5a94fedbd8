"""TaskStore and KeyStore on SQLAlchemy Core, one implementation for SQLite and PostgreSQL.

Every state change is a single guarded UPDATE (``WHERE status = <from> [AND lease_owner = <worker>]``) whose
row count says whether it won, so racing writers (two claimers, cancel vs claim, finish vs requeue) cannot
both win. Each write transaction starts with its write, which on SQLite takes the write lock up front.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    ColumnElement,
    Connection,
    Engine,
    Integer,
    RowMapping,
    Select,
    String,
    Update,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import ReturningDelete

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
)
from videosynth.store.schema import api_keys, tasks

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
        "result_key": task.result_key,
        "error_code": task.error_code,
        "error_message": task.error_message,
        "actual_prompt": task.actual_prompt,
        "extension_json": task.extension,
        "usage_json": task.usage,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "updated_ms": task.submit_ms,
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
            usage = _KeyUsage.load(conn, items)
            bulk: list[dict[str, Any]] = []  # new tasks without an Idempotency-Key: one multi-row insert
            outcomes = [_create_one(conn, item, usage, bulk) for item in items]
            if bulk:
                conn.execute(_INSERT_TASK, bulk)
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
            conn.execute(
                update(tasks)
                .where(*mine, tasks.c.status == TaskStatus.PENDING.value)
                .values(status=TaskStatus.CANCELED.value, end_ms=now_ms, updated_ms=now_ms)
            )
            row = conn.execute(select(tasks).where(*mine)).mappings().first()
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
        )
        retry = (
            update(tasks)
            .where(*expired, tasks.c.attempts < max_attempts)
            .values(status=TaskStatus.PENDING.value, progress=0, updated_ms=now_ms, **_NO_LEASE)
        )
        with self._engine.begin() as conn:
            return int(conn.execute(give_up).rowcount) + int(conn.execute(retry).rowcount)

    # --- retention -----------------------------------------------------------------------------------------

    def purge_expired(self, before_ms: int, limit: int) -> Purged:
        if limit < 1:
            raise ValueError(f"limit starts at 1, got {limit}.")
        with self._engine.begin() as conn:
            rows = conn.execute(_purge_statement(before_ms, limit)).all()
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
        )
        with self._engine.begin() as conn:
            return conn.execute(statement).rowcount == 1

    def _has_pending(self, models: Collection[str] | None) -> bool:
        query = select(tasks.c.task_id).where(*_pending_filter(models)).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None


# Built once: .values(row) per call coerced every column again, a large share of a create's CPU.
_INSERT_TASK = insert(tasks)
_ACTIVE = (TaskStatus.PENDING.value, TaskStatus.RUNNING.value)
RATE_WINDOW_MS = 60_000


def _by_idempotency_key(conn: Connection, key_id: str, idempotency_key: str) -> RowMapping | None:
    query = select(tasks).where(tasks.c.key_id == key_id, tasks.c.idempotency_key == idempotency_key)
    return conn.execute(query).mappings().first()


@dataclass
class _KeyUsage:
    """Per key of a batch: its tasks created in the rate window and its active tasks, kept up to date as the
    batch's items are accepted. Counted without a bound on purpose: admission itself keeps both near the limits."""

    recent: dict[str, int]
    active: dict[str, int]

    @classmethod
    def load(cls, conn: Connection, items: Sequence[NewTask]) -> _KeyUsage:
        checked = [item for item in items if item.admission is not None]
        keys = sorted({item.task.key_id for item in checked})
        if not keys:
            return cls({}, {})
        if conn.dialect.name == "postgresql":
            # READ COMMITTED would let concurrent creates of one key each miss the others' uncommitted rows;
            # these locks (released at commit) make one key's check-and-insert serial, as SQLite's BEGIN
            # IMMEDIATE does. One statement takes them all in one order, so two batches cannot deadlock.
            conn.execute(_LOCK_KEYS, {"keys": keys})
        # The earliest item's window: a few milliseconds wider than the later items' own, never narrower.
        since = min(item.admission.now_ms for item in checked if item.admission) - RATE_WINDOW_MS
        rows = conn.execute(_USAGE_BY_KEY, {"keys": keys, "since": since}).all()
        return cls({key: int(recent) for key, recent, _ in rows}, {key: int(active) for key, _, active in rows})

    def refusal(self, key_id: str, admission: Admission) -> AdmissionRefused | None:
        recent, active = self.recent.get(key_id, 0), self.active.get(key_id, 0)
        if recent >= admission.max_per_minute:
            return AdmissionRefused("rate", recent, admission.max_per_minute)
        if active >= admission.max_active:
            return AdmissionRefused("active", active, admission.max_active)
        return None

    def accepted(self, key_id: str) -> None:
        self.recent[key_id] = self.recent.get(key_id, 0) + 1
        self.active[key_id] = self.active.get(key_id, 0) + 1


def _create_one(conn: Connection, item: NewTask, usage: _KeyUsage, bulk: list[dict[str, Any]]) -> CreateOutcome:
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
                conn.execute(_INSERT_TASK, row)
        except IntegrityError:
            # Another process's create with the same Idempotency-Key committed first: answer as its retry would.
            existing = _by_idempotency_key(conn, task.key_id, idempotency_key)
            if existing is None:
                raise
            return _same_request(existing, item.request_hash)
    usage.accepted(task.key_id)
    return task


_KEYS: BindParameter[str] = bindparam("keys", expanding=True)


def _usage_by_key() -> Select[Any]:
    """(key_id, tasks created since :since, PENDING + RUNNING tasks) of each of :keys that has any. One
    statement (one round trip), whose two arms each read only their own index ((key_id, submit_ms) and
    (key_id, status)): an OR of both conditions made SQLite read every task the key ever had."""
    zero = literal(0, Integer)
    recent = select(tasks.c.key_id, func.count().label("recent"), zero.label("active")).where(
        tasks.c.key_id.in_(_KEYS), tasks.c.submit_ms > bindparam("since")
    )
    active = select(tasks.c.key_id, zero.label("recent"), func.count().label("active")).where(
        tasks.c.key_id.in_(_KEYS), tasks.c.status.in_(_ACTIVE)
    )
    both = union_all(recent.group_by(tasks.c.key_id), active.group_by(tasks.c.key_id)).subquery()
    return select(both.c.key_id, func.sum(both.c.recent), func.sum(both.c.active)).group_by(both.c.key_id)


_USAGE_BY_KEY = _usage_by_key()
# In the order of the lock ids themselves, whatever order the keys came in.
_LOCK_KEYS = text(
    "SELECT pg_advisory_xact_lock(lock_id) FROM "
    "(SELECT DISTINCT hashtext(key_id) AS lock_id FROM unnest(CAST(:keys AS text[])) AS keys(key_id) "
    "ORDER BY lock_id) AS ordered"
)


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


def _purge_statement(before_ms: int, limit: int) -> ReturningDelete[str, str | None]:
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
        .returning(tasks.c.task_id, tasks.c.result_key)
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
