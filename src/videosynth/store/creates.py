"""A batch of creates in one transaction: each item's Idempotency-Key retry, its admission, its insert.

A few statements carry the whole batch: one locking read of its keys' usage rows, one multi-row insert of the
new tasks without an Idempotency-Key, one usage update (on PostgreSQL the insert and the update are one
statement). Each item still sees the state its predecessors left, exactly as if they had come one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, RowMapping, select
from sqlalchemy.exc import IntegrityError

from videosynth.domain.task import Task
from videosynth.store.admission import BatchUsage
from videosynth.store.insert import TaskInsert
from videosynth.store.protocols import CreateOutcome, IdempotencyConflict, NewTask
from videosynth.store.rows import row_to_task, task_row
from videosynth.store.schema import tasks


def create_batch(conn: Connection, items: Sequence[NewTask], insert_tasks: TaskInsert) -> list[CreateOutcome]:
    """Every item's outcome, written in ``conn``'s transaction (the caller commits)."""
    usage = BatchUsage.lock(conn, {item.task.key_id for item in items})
    bulk: list[dict[str, Any]] = []  # new tasks without an Idempotency-Key: one multi-row insert
    outcomes = [_create_one(conn, item, usage, bulk, insert_tasks) for item in items]
    if bulk and usage.changed and conn.dialect.name == "postgresql":
        # One round trip for both writes: on a busy API each one costs the writer thread a wait for the GIL.
        usage_sql, usage_params = usage.postgres_update()
        insert_sql, insert_params = insert_tasks.postgres_statement(bulk)
        conn.exec_driver_sql(f"WITH new_tasks AS ({insert_sql}) {usage_sql}", insert_params | usage_params)
    else:
        if bulk:
            insert_tasks(conn, bulk)
        usage.save(conn)
    return outcomes


def _create_one(
    conn: Connection, item: NewTask, usage: BatchUsage, bulk: list[dict[str, Any]], insert_tasks: TaskInsert
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
    row = task_row(task, idempotency_key, item.request_hash, item.webhook_url)
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
    usage.accept(task.key_id, item.admission)
    return task


def _by_idempotency_key(conn: Connection, key_id: str, idempotency_key: str) -> RowMapping | None:
    query = select(tasks).where(tasks.c.key_id == key_id, tasks.c.idempotency_key == idempotency_key)
    return conn.execute(query).mappings().first()


def _same_request(existing: RowMapping, request_hash: str | None) -> Task | IdempotencyConflict:
    """The task a retry is answered with, or the conflict when the Idempotency-Key came with another body."""
    if existing["request_hash"] != request_hash:
        return IdempotencyConflict(
            "This Idempotency-Key was already used with a different request body; use a new key for a new request."
        )
    return row_to_task(existing)
