"""Retention's DELETE: a bounded batch of expired tasks, safe to run from several sweepers at once."""

from __future__ import annotations

from sqlalchemy import BigInteger, delete, literal, select
from sqlalchemy.sql.dml import ReturningDelete

from videosynth.domain.task import FINAL_STATUSES, TaskStatus
from videosynth.store.schema import tasks

# PENDING too: past retention it reads UNKNOWN, so a worker must not spend a GPU on it. Never RUNNING: a worker
# holds it (it is purged on a later sweep, once final).
_PURGEABLE_VALUES = sorted(status.value for status in (*FINAL_STATUSES, TaskStatus.PENDING))


def purge_statement(before_ms: int, limit: int) -> ReturningDelete[str, str | None, str, str]:
    """Up to ``limit`` purgeable tasks submitted before ``before_ms``, oldest first, deleted; returns
    (task_id, result_key, key_id, status) of exactly the rows it removed."""
    # One DELETE … RETURNING: it leads its transaction (on SQLite it takes the write lock at once) and reports
    # only the rows it removed. The CTE picks a bounded batch, oldest first; on PostgreSQL SKIP LOCKED lets
    # concurrent sweepers take disjoint batches instead of queueing, and MATERIALIZED makes the batch be chosen
    # once: as a plain IN (subquery) the planner may rescan it once per candidate row, and each rescan, skipping
    # the rows this statement already deleted, adds a fresh batch, so LIMIT would bound nothing. The outer WHERE
    # repeats every condition, so a row that changed between the batch's read and the delete is left alone.
    expired = (
        tasks.c.status.in_(_PURGEABLE_VALUES),
        # Typed bind: epoch ms do not fit PostgreSQL's INTEGER.
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
