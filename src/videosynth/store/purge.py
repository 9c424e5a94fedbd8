"""Retention's DELETEs: a bounded batch of expired rows (tasks; uploads in store/uploads.py), safe to run from
several sweepers at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, ColumnElement, Delete, delete, literal, select
from sqlalchemy.sql.dml import ReturningDelete

from videosynth.domain.task import FINAL_STATUSES, TaskStatus
from videosynth.store.schema import tasks

# PENDING too: past retention it reads UNKNOWN, so a worker must not spend a GPU on it. Never RUNNING: a worker
# holds it (it is purged on a later sweep, once final).
_PURGEABLE_VALUES = sorted(status.value for status in (*FINAL_STATUSES, TaskStatus.PENDING))


def purge_statement(before_ms: int, limit: int) -> ReturningDelete[str, str | None, str, str]:
    """Up to ``limit`` purgeable tasks submitted before ``before_ms``, oldest first, deleted; returns
    (task_id, result_key, key_id, status) of exactly the rows it removed."""
    expired = (
        tasks.c.status.in_(_PURGEABLE_VALUES),
        # Typed bind: epoch ms do not fit PostgreSQL's INTEGER.
        tasks.c.submit_ms < literal(before_ms, BigInteger),
    )
    return bounded_delete(tasks.c.task_id, expired, (tasks.c.submit_ms, tasks.c.task_id), limit).returning(
        tasks.c.task_id, tasks.c.result_key, tasks.c.key_id, tasks.c.status
    )


def bounded_delete(
    key: Column[Any], where: Sequence[ColumnElement[bool]], order_by: Sequence[ColumnElement[Any]], limit: int
) -> Delete:
    """The DELETE of up to ``limit`` rows of ``key``'s table that match ``where``, the first in ``order_by``; the
    caller names what it returns. Safe to run from several sweepers at once (tasks, uploads)."""
    if limit < 1:
        raise ValueError(f"limit starts at 1, got {limit}.")
    # One DELETE … RETURNING: it leads its transaction (on SQLite it takes the write lock at once) and reports
    # only the rows it removed. The CTE picks a bounded batch, first in order; on PostgreSQL SKIP LOCKED lets
    # concurrent sweepers take disjoint batches instead of queueing, and MATERIALIZED makes the batch be chosen
    # once: as a plain IN (subquery) the planner may rescan it once per candidate row, and each rescan, skipping
    # the rows this statement already deleted, adds a fresh batch, so LIMIT would bound nothing. The outer WHERE
    # repeats every condition, so a row that changed between the batch's read and the delete is left alone.
    table = key.table
    batch = (
        select(key)
        .where(*where)
        .order_by(*order_by)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte(f"{table.name}_purge_batch")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return delete(table).where(key.in_(select(batch.c[key.name])), *where)
