"""An upstream's limits, shared by every relay worker through the store: a poll budget and in-flight slots.

DashScope allows a key's account 20 task queries per second, whoever sends them; relay workers on many nodes
must share that, and an upstream's concurrency, through the one database they all use.

- Poll budget: a GCRA bucket per upstream in one atomic UPDATE (``tat_ns``: when the bucket is full again). A grant
  moves it one interval on; the UPDATE's WHERE refuses while it is too far ahead. PostgreSQL re-checks the WHERE
  on the row it locked, SQLite runs one writer at a time: two workers never both take the last grant.
- Slots: rows 0 … n-1 per upstream; a task takes a free (or expired) one with a guarded UPDATE, keeps it renewed
  while its upstream task runs, and lets go when that task ended. A holder whose worker died loses it at expiry;
  the same task, re-claimed, takes its own slot back (the holder is our task id).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, Table, Update, and_, case, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.dml import Insert

from videosynth.store.schema import upstream_budget, upstream_slots

_NS = 1_000_000_000


def upstream_name(base_url: str, api_key: str) -> str:
    """The row key of one upstream account: its URL and a fingerprint of its key (the key is never stored)."""
    fingerprint = hashlib.sha256(api_key.encode()).hexdigest()[:16]
    return f"{base_url}#{fingerprint}"


@dataclass(frozen=True)
class PollBudget:
    """``qps`` grants a second, ``burst`` of them at once after a quiet spell."""

    qps: float
    burst: int = 1

    @property
    def interval_ns(self) -> int:
        return max(int(_NS / self.qps), 1)

    @property
    def tolerance_ns(self) -> int:
        return (self.burst - 1) * self.interval_ns


class UpstreamLimits:
    """One upstream's shared poll budget and slots, over the store's engine."""

    def __init__(self, engine: Engine, upstream: str) -> None:
        self._engine = engine
        self._upstream = upstream
        self._rows_made = 0  # slots known to exist (the budget row with the first)

    def try_poll(self, budget: PollBudget, now_ns: int) -> float:
        """0.0 when a poll was granted (and counted); else the seconds until the next grant may be."""
        self._ensure_rows(1)
        granted = (
            update(upstream_budget)
            .where(upstream_budget.c.upstream == self._upstream)
            .where(upstream_budget.c.tat_ns <= now_ns + budget.tolerance_ns)
            .values(
                tat_ns=case((upstream_budget.c.tat_ns > now_ns, upstream_budget.c.tat_ns), else_=now_ns)
                + budget.interval_ns
            )
        )
        with self._engine.begin() as conn:
            if conn.execute(granted).rowcount == 1:
                return 0.0
            tat = conn.execute(
                select(upstream_budget.c.tat_ns).where(upstream_budget.c.upstream == self._upstream)
            ).scalar_one()
        return float(max(int(tat) - budget.tolerance_ns - now_ns, 1) / _NS)

    def take_slot(self, holder: str, slots: int, now_ms: int, ttl_s: float) -> bool:
        """Whether ``holder`` holds one of the ``slots`` now (its own again, or a free or expired one)."""
        self._ensure_rows(slots)
        expires = now_ms + int(ttl_s * 1000)
        with self._engine.begin() as conn:
            if self._renew(conn, holder, expires):
                return True
            for slot in range(slots):
                free = or_(
                    upstream_slots.c.holder.is_(None),
                    upstream_slots.c.expires_ms < now_ms,
                )
                taken = (
                    update(upstream_slots)
                    .where(and_(upstream_slots.c.upstream == self._upstream, upstream_slots.c.slot == slot, free))
                    .values(holder=holder, expires_ms=expires)
                )
                if conn.execute(taken).rowcount == 1:
                    return True
        return False

    def renew_slot(self, holder: str, now_ms: int, ttl_s: float) -> bool:
        """Push the holder's slot's expiry on; False when it holds none (it expired and was taken)."""
        with self._engine.begin() as conn:
            return self._renew(conn, holder, now_ms + int(ttl_s * 1000))

    def release_slot(self, holder: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(self._held_by(holder).values(holder=None, expires_ms=None))

    def in_flight(self, now_ms: int) -> int:
        """Slots held now, by any worker (a gauge's reading)."""
        count = (
            select(func.count())
            .select_from(upstream_slots)
            .where(upstream_slots.c.upstream == self._upstream)
            .where(upstream_slots.c.holder.is_not(None))
            .where(upstream_slots.c.expires_ms >= now_ms)
        )
        with self._engine.connect() as conn:
            return int(conn.execute(count).scalar_one())

    def _held_by(self, holder: str) -> Update:
        return update(upstream_slots).where(
            and_(upstream_slots.c.upstream == self._upstream, upstream_slots.c.holder == holder)
        )

    def _renew(self, conn: Connection, holder: str, expires_ms: int) -> bool:
        return bool(conn.execute(self._held_by(holder).values(expires_ms=expires_ms)).rowcount)

    def _ensure_rows(self, slots: int) -> None:
        """The budget row and slot rows 0 … slots-1, made once per process (a row made meanwhile is kept)."""
        if slots <= self._rows_made:
            return
        with self._engine.begin() as conn:
            conn.execute(_insert_missing(conn, upstream_budget), [{"upstream": self._upstream, "tat_ns": 0}])
            rows = [{"upstream": self._upstream, "slot": s, "holder": None, "expires_ms": None} for s in range(slots)]
            conn.execute(_insert_missing(conn, upstream_slots), rows)
        self._rows_made = slots


def _insert_missing(conn: Connection, table: Table) -> Insert:
    dialect_insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return dialect_insert(table).on_conflict_do_nothing()
