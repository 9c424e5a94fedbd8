"""TaskStore on SQLAlchemy Core, one implementation for SQLite and PostgreSQL: the task table is the queue.

Every status change is one of the store's transitions (store/transitions.py), a single guarded UPDATE whose row
count says whether it won; a worker's writes are guarded on its lease too (``AND lease_owner = <worker>``). Each
write transaction starts with its write, which on SQLite takes the write lock up front; the per-key usage rows
are written in the order store/admission.py lays down.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    String,
    Update,
    case,
    cast,
    delete,
    func,
    literal,
    select,
    tuple_,
)
from sqlalchemy.exc import IntegrityError

from videosynth.domain.admission import Admission
from videosynth.domain.progress import WorkProgress
from videosynth.domain.task import ACTIVE_STATUSES, FINAL_STATUSES, Task, TaskStatus
from videosynth.store import uploads as upload_statements
from videosynth.store.admission import release_active
from videosynth.store.creates import create_batch
from videosynth.store.engine import immediate
from videosynth.store.insert import TaskInsert
from videosynth.store.outbox import record_events
from videosynth.store.protocols import CreateOutcome, NewTask, Purged, TaskPage, Tasks
from videosynth.store.purge import purge_statement
from videosynth.store.rows import row_to_task
from videosynth.store.schema import tasks
from videosynth.store.transitions import (
    CANCEL,
    CLAIM,
    FAIL,
    REQUEUE,
    SUCCEED,
    UPSTREAM_CANCELED,
    Transition,
    while_in,
)

# On PostgreSQL, SKIP LOCKED with LIMIT 1 can come back empty while another claimer holds the only candidate
# row it saw; a few immediate retries tell "lost a race" from "queue empty".
_CLAIM_TRIES = 5

_NO_LEASE: Mapping[str, None] = {"lease_owner": None, "lease_expires_ms": None}
# A task back in the queue (or newly claimed) has no published work yet.
_NO_WORK: Mapping[str, None] = {"phase": None, "step": None, "steps": None, "eta_ms": None}
_ACTIVE_VALUES = sorted(status.value for status in ACTIVE_STATUSES)
_FINAL_VALUES = sorted(status.value for status in FINAL_STATUSES)

Clock = Callable[[], int]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


class SqlTaskStore:
    """TaskStore over a SQLAlchemy engine; ``clock`` stamps updated_ms where the protocol gives no time."""

    def __init__(self, engine: Engine, clock: Clock = wall_clock_ms) -> None:
        self._engine = engine
        self._immediate = immediate(engine)
        self._insert = TaskInsert(engine.dialect)
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
        with self._immediate.begin() as conn:  # one transaction, one commit, for the whole batch
            return create_batch(conn, items, self._insert)

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

    def list_after(
        self, key_id: str, after: str | None, limit: int, descending: bool = True, start_ms: int | None = None
    ) -> Tasks:
        if limit < 1:
            raise ValueError(f"limit starts at 1, got {limit}.")
        where = _listing_filter(key_id, None, None, start_ms, None)
        position = (tasks.c.submit_ms, tasks.c.task_id)
        order = [column.desc() if descending else column.asc() for column in position]
        with self._engine.connect() as conn:
            if after is not None:
                cursor = conn.execute(
                    select(*position).where(tasks.c.task_id == after, tasks.c.key_id == key_id)
                ).first()
                if cursor is None:
                    return []
                past = tuple_(*position) < tuple(cursor) if descending else tuple_(*position) > tuple(cursor)
                where.append(past)
            rows = conn.execute(select(tasks).where(*where).order_by(*order).limit(limit)).mappings().all()
        return [row_to_task(row) for row in rows]

    def delete(self, task_id: str, key_id: str) -> tuple[str, str | None] | None:
        statement = (
            delete(tasks)
            .where(tasks.c.task_id == task_id, tasks.c.key_id == key_id, tasks.c.status.in_(_FINAL_VALUES))
            .returning(tasks.c.task_id, tasks.c.result_key)
        )
        with self._engine.begin() as conn:
            row = conn.execute(statement).first()
        return None if row is None else (row.task_id, row.result_key)

    def count_active(self, key_id: str) -> int:
        query = (
            select(func.count()).select_from(tasks).where(tasks.c.key_id == key_id, tasks.c.status.in_(_ACTIVE_VALUES))
        )
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
            canceled = conn.execute(CANCEL.update().where(*mine).values(end_ms=now_ms, updated_ms=now_ms)).rowcount
            row = conn.execute(select(tasks).where(*mine)).mappings().first()
            if canceled:
                release_active(conn, [key_id])
                record_events(conn, tasks.c.task_id == task_id, TaskStatus.CANCELED, now_ms)
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

    def heartbeat(
        self, task_id: str, worker_id: str, now_ms: int, lease_s: float, progress: int | WorkProgress | None = None
    ) -> bool:
        values: dict[str, Any] = {"lease_expires_ms": now_ms + _ms(lease_s), "updated_ms": now_ms}
        if isinstance(progress, WorkProgress):
            values.update(_work_columns(progress))
            progress = progress.percent
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
        record: dict[str, Any] | None = None,
        seed: int | None = None,
    ) -> bool:
        values: dict[str, Any] = {
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
        if record is not None:
            values["record_json"] = record
        if seed is not None:
            values["seed"] = seed
        return self._update_owned(task_id, worker_id, values, SUCCEED)

    def finish_failure(self, task_id: str, worker_id: str, now_ms: int, code: str, message: str) -> bool:
        values = {
            "end_ms": now_ms,
            "updated_ms": now_ms,
            "error_code": code,
            "error_message": message,
            "lease_expires_ms": None,
        }
        return self._update_owned(task_id, worker_id, values, FAIL)

    def finish_canceled(self, task_id: str, worker_id: str, now_ms: int, message: str) -> bool:
        values = {"end_ms": now_ms, "updated_ms": now_ms, "error_message": message, "lease_expires_ms": None}
        return self._update_owned(task_id, worker_id, values, UPSTREAM_CANCELED)

    def release(self, task_id: str, worker_id: str) -> bool:
        values = {
            "progress": 0,
            # A graceful shutdown is not the task's fault: give the claim back.
            "attempts": case((tasks.c.attempts > 0, tasks.c.attempts - 1), else_=0),
            "updated_ms": self._clock(),
            **_NO_LEASE,
            **_NO_WORK,
        }
        return self._update_owned(task_id, worker_id, values, REQUEUE)

    def requeue_expired(self, now_ms: int, max_attempts: int) -> int:
        expired = (tasks.c.lease_expires_ms < now_ms,)
        give_up = (
            FAIL.update()
            .where(*expired, tasks.c.attempts >= max_attempts)
            .values(
                end_ms=now_ms,
                updated_ms=now_ms,
                error_code="InternalError",
                error_message=_abandoned_message(),
                **_NO_LEASE,
            )
            .returning(tasks.c.key_id, tasks.c.task_id)
        )
        retry = (
            REQUEUE.update()
            .where(*expired, tasks.c.attempts < max_attempts)
            .values(progress=0, updated_ms=now_ms, **_NO_LEASE, **_NO_WORK)
        )
        with self._engine.begin() as conn:
            failed = conn.execute(give_up).all()
            retried = int(conn.execute(retry).rowcount)
            release_active(conn, [row.key_id for row in failed])
            if failed:
                failed_ids = [row.task_id for row in failed]
                record_events(conn, tasks.c.task_id.in_(failed_ids), TaskStatus.FAILED, now_ms)
        return len(failed) + retried

    # --- retention -----------------------------------------------------------------------------------------

    def purge_expired(self, before_ms: int, limit: int) -> Purged:
        statement = purge_statement(before_ms, limit)  # refuses a limit under 1
        with self._engine.begin() as conn:
            rows = conn.execute(statement).all()
            release_active(conn, [row.key_id for row in rows if TaskStatus(row.status).is_active])
        return [(row.task_id, row.result_key) for row in rows]

    def record_upload(self, blob_key: str, expires_ms: int) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(upload_statements.record_statement(blob_key, expires_ms))
        except IntegrityError:  # recorded before: that name holds a file already
            return False
        return True

    def purge_uploads(self, before_ms: int, limit: int) -> Sequence[str]:
        statement = upload_statements.purge_statement(before_ms, limit)  # refuses a limit under 1
        with self._engine.begin() as conn:
            return list(conn.execute(statement).scalars())

    # --- helpers -------------------------------------------------------------------------------------------

    def _update_owned(
        self, task_id: str, worker_id: str, values: Mapping[str, Any], change: Transition | None = None
    ) -> bool:
        """Apply ``values`` (and ``change``, when the status changes) to a task only while it is RUNNING under
        this worker's lease; True when it won.

        A lease past its expiry that requeue_expired has not reclaimed yet still counts: nobody else can hold
        the task, so the worker's late heartbeat or result is kept rather than thrown away."""
        guarded = while_in(TaskStatus.RUNNING) if change is None else change.update()
        statement: Update = (
            guarded.where(tasks.c.task_id == task_id, tasks.c.lease_owner == worker_id)
            .values(dict(values))
            .returning(tasks.c.key_id)
        )
        with self._engine.begin() as conn:
            key_id = conn.execute(statement).scalar_one_or_none()
            if key_id is not None and change is not None and change.frees_a_slot:
                release_active(conn, [key_id])
            if key_id is not None and change is not None and change.target.is_final:
                # The event is committed with the state it reports (store/outbox.py).
                record_events(conn, tasks.c.task_id == task_id, change.target, self._clock())
        return key_id is not None

    def _has_pending(self, models: Collection[str] | None) -> bool:
        query = select(tasks.c.task_id).where(*_pending_filter(models)).limit(1)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None


def _work_columns(work: WorkProgress) -> dict[str, Any]:
    return {"phase": work.phase.value, "step": work.step, "steps": work.steps, "eta_ms": work.eta_ms}


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
        CLAIM.update()
        .where(tasks.c.task_id == oldest)
        .values(
            lease_owner=worker_id,
            lease_expires_ms=now_ms + _ms(lease_s),
            attempts=tasks.c.attempts + 1,
            # Never before the submit: the worker read its clock before this statement waited for the write lock,
            # and the create may have committed in between (clients check submit ≤ scheduled ≤ end).
            scheduled_ms=func.coalesce(tasks.c.scheduled_ms, _not_before(tasks.c.submit_ms, now_ms)),
            progress=0,
            updated_ms=now_ms,
            **_NO_WORK,
        )
        .returning(*tasks.c)
    )


def _not_before(column: ColumnElement[int], now_ms: int) -> ColumnElement[int]:
    # Typed bind: an untyped Python int is sent to PostgreSQL as INTEGER, too small for epoch ms.
    now = literal(now_ms, BigInteger)
    return case((column > now, column), else_=now)


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
