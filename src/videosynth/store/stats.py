"""Read-only aggregate queries over the task table, for monitoring (the API's /metrics scrape).

Kept apart from the TaskStore: these are operator views, not use cases, and none of them changes a row. Every
query is a GROUP BY over the claim index's leading columns (status, model), so a scrape stays cheap while the
retention period bounds the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, func, select

from videosynth.domain.task import TaskStatus
from videosynth.store.schema import tasks


@dataclass(frozen=True)
class WorkerLease:
    """A worker seen through the leases it holds: RUNNING tasks whose lease has not expired."""

    worker_id: str
    running: int
    last_heartbeat_ms: int  # newest updated_ms of its tasks: a claim or a heartbeat sets it
    lease_expires_ms: int  # latest lease expiry among its tasks


@dataclass(frozen=True)
class QueueStats:
    counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (status, model) → tasks
    oldest_pending_ms: dict[str, int] = field(default_factory=dict)  # model → submit_ms of its oldest PENDING
    workers: list[WorkerLease] = field(default_factory=list)
    expired_leases: int = 0  # RUNNING tasks whose lease ran out (worker presumably dead), not yet requeued

    @property
    def models(self) -> list[str]:
        return sorted({model for _status, model in self.counts})

    def count(self, status: TaskStatus | str, model: str) -> int:
        return self.counts.get((str(status), model), 0)


def task_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """How many tasks the table holds, by (status, model)."""
    query = select(tasks.c.status, tasks.c.model, func.count()).group_by(tasks.c.status, tasks.c.model)
    return {(status, model): int(n) for status, model, n in conn.execute(query)}


def oldest_pending(conn: Connection) -> dict[str, int]:
    """Per model, the submit time of the oldest PENDING task: how long the head of its queue has waited."""
    query = (
        select(tasks.c.model, func.min(tasks.c.submit_ms))
        .where(tasks.c.status == TaskStatus.PENDING.value)
        .group_by(tasks.c.model)
    )
    return {model: int(ms) for model, ms in conn.execute(query)}


def live_workers(conn: Connection, now_ms: int) -> list[WorkerLease]:
    """Workers holding at least one unexpired lease. An idle worker holds none and is not seen here."""
    query = (
        select(
            tasks.c.lease_owner,
            func.count(),
            func.max(tasks.c.updated_ms),
            func.max(tasks.c.lease_expires_ms),
        )
        .where(
            tasks.c.status == TaskStatus.RUNNING.value,
            tasks.c.lease_owner.is_not(None),
            tasks.c.lease_expires_ms > now_ms,
        )
        .group_by(tasks.c.lease_owner)
        .order_by(tasks.c.lease_owner)
    )
    return [
        WorkerLease(worker_id=owner, running=int(n), last_heartbeat_ms=int(beat), lease_expires_ms=int(expires))
        for owner, n, beat, expires in conn.execute(query)
    ]


def expired_leases(conn: Connection, now_ms: int) -> int:
    query = (
        select(func.count())
        .select_from(tasks)
        .where(tasks.c.status == TaskStatus.RUNNING.value, tasks.c.lease_expires_ms <= now_ms)
    )
    return int(conn.execute(query).scalar_one())


def snapshot(engine: Engine, now_ms: int) -> QueueStats:
    """All of the above on one connection (one read transaction, so the figures agree with each other)."""
    with engine.connect() as conn:
        return QueueStats(
            counts=task_counts(conn),
            oldest_pending_ms=oldest_pending(conn),
            workers=live_workers(conn, now_ms),
            expired_leases=expired_leases(conn, now_ms),
        )
