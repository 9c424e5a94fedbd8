"""The webhook outbox: events written in the transaction of the state change they report, claimed with a lease.

``record_events`` is called by the task store inside the transaction that makes tasks final, so an event exists
exactly when its terminal state was committed. Its id is derived from the task (a task becomes final once), so it
is the same on every retry and after any restart. ``SqlOutbox`` is the deliverers' side: a claim leases due rows
(PostgreSQL skips rows another deliverer holds; on SQLite the UPDATE takes the write lock before its subquery
reads), so several deliverers never send the same event at the same time, and one that dies leaves its rows to
be claimed again once their lease expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Update,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

from videosynth.domain.task import TaskStatus
from videosynth.store.schema import api_keys, tasks, webhook_outbox

EVENT_ID_PREFIX = "msg_"
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def event_type(status: TaskStatus) -> str:
    """``task.succeeded``, ``task.failed`` or ``task.canceled``."""
    return f"task.{status.value.lower()}"


def record_events(conn: Connection, which: ColumnElement[bool], status: TaskStatus, now_ms: int) -> None:
    """An event for each task ``which`` selects that has a webhook URL (its own, else its key's), in ``conn``'s
    transaction. One INSERT … SELECT, so a batch of tasks failed together costs one statement."""
    url = func.coalesce(tasks.c.webhook_url, api_keys.c.webhook_url)
    rows = (
        select(
            literal(EVENT_ID_PREFIX) + tasks.c.task_id,
            tasks.c.task_id,
            literal(event_type(status)),
            url,
            literal(now_ms, BigInteger),  # typed: PostgreSQL takes an untyped int as INTEGER
            literal(PENDING),
            literal(0),
            literal(now_ms, BigInteger),
        )
        .select_from(tasks.outerjoin(api_keys, api_keys.c.key_id == tasks.c.key_id))
        .where(which, url.is_not(None))
    )
    columns = ["event_id", "task_id", "event_type", "url", "created_ms", "state", "attempts", "next_attempt_ms"]
    conn.execute(insert(webhook_outbox).from_select(columns, rows))


@dataclass(frozen=True)
class OutboxEvent:
    event_id: str
    task_id: str
    event_type: str
    url: str
    created_ms: int
    attempts: int  # including the one now leased


def _row_to_event(row: Mapping[Any, Any]) -> OutboxEvent:
    return OutboxEvent(
        event_id=row["event_id"],
        task_id=row["task_id"],
        event_type=row["event_type"],
        url=row["url"],
        created_ms=row["created_ms"],
        attempts=row["attempts"],
    )


class SqlOutbox:
    """The deliverers' view of the outbox over a SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, owner: str, now_ms: int, lease_ms: int, limit: int) -> list[OutboxEvent]:
        """Lease up to ``limit`` due events to ``owner`` (oldest due first), counting the attempt."""
        due = _due(now_ms)
        with self._engine.connect() as conn:  # a read first: an idle poll never takes SQLite's write lock
            if conn.execute(select(webhook_outbox.c.event_id).where(*due).limit(1)).first() is None:
                return []
        chosen = (
            select(webhook_outbox.c.event_id)
            .where(*due)
            .order_by(webhook_outbox.c.next_attempt_ms, webhook_outbox.c.event_id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(webhook_outbox)
            .where(webhook_outbox.c.event_id.in_(chosen.scalar_subquery()), *due)
            .values(lease_owner=owner, lease_expires_ms=now_ms + lease_ms, attempts=webhook_outbox.c.attempts + 1)
            .returning(*webhook_outbox.c)
        )
        with self._engine.begin() as conn:
            rows = conn.execute(statement).mappings().all()
        return sorted((_row_to_event(row) for row in rows), key=lambda event: event.event_id)

    def delivered(self, event_id: str, owner: str, now_ms: int) -> bool:
        return self._settle(event_id, owner, state=DELIVERED, finished_ms=now_ms, last_error=None)

    def retry_at(self, event_id: str, owner: str, next_attempt_ms: int, error: str) -> bool:
        return self._settle(event_id, owner, next_attempt_ms=next_attempt_ms, last_error=error)

    def give_up(self, event_id: str, owner: str, now_ms: int, error: str) -> bool:
        return self._settle(event_id, owner, state=DEAD, finished_ms=now_ms, last_error=error)

    def purge_settled(self, before_ms: int, limit: int) -> int:
        """Delete up to ``limit`` delivered or dead events settled before ``before_ms``; how many went."""
        settled = (
            select(webhook_outbox.c.event_id)
            .where(webhook_outbox.c.state != PENDING, webhook_outbox.c.finished_ms < before_ms)
            .limit(limit)
        )
        statement = delete(webhook_outbox).where(webhook_outbox.c.event_id.in_(settled.scalar_subquery()))
        with self._engine.begin() as conn:
            return int(conn.execute(statement).rowcount)

    def state_of(self, event_id: str) -> str | None:
        query = select(webhook_outbox.c.state).where(webhook_outbox.c.event_id == event_id)
        with self._engine.connect() as conn:
            state: str | None = conn.execute(query).scalar_one_or_none()
        return state

    def _settle(self, event_id: str, owner: str, **values: Any) -> bool:
        """Write an attempt's outcome while ``owner`` still holds the lease; True when it did."""
        statement: Update = (
            update(webhook_outbox)
            .where(
                webhook_outbox.c.event_id == event_id,
                webhook_outbox.c.lease_owner == owner,
                webhook_outbox.c.state == PENDING,
            )
            .values(lease_owner=None, lease_expires_ms=None, **values)
        )
        with self._engine.begin() as conn:
            return bool(conn.execute(statement).rowcount)


def _due(now_ms: int) -> list[ColumnElement[bool]]:
    return [
        webhook_outbox.c.state == PENDING,
        webhook_outbox.c.next_attempt_ms <= now_ms,
        webhook_outbox.c.lease_expires_ms.is_(None) | (webhook_outbox.c.lease_expires_ms < now_ms),
    ]
