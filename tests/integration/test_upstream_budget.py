"""An upstream's shared limits (store/upstream_budget.py) under racing relay workers, on SQLite and PostgreSQL.

Each thread has an engine of its own (a simulated worker process). The clock is given, not read: every worker
races at the same instants, so the count of grants is exact, whatever the machine's speed."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine
from tests.support.threads import run_together

from videosynth.store.engine import make_engine
from videosynth.store.upstream_budget import PollBudget, UpstreamLimits, upstream_name

WORKERS = 8
UPSTREAM = upstream_name("http://upstream.test", "sk-test")
SECOND_NS = 1_000_000_000


def _each_worker(db_url: str, work: Callable[[UpstreamLimits, int], int]) -> list[int]:
    def one(index: int) -> int:
        engine = make_engine(db_url)
        try:
            return work(UpstreamLimits(engine, UPSTREAM), index)
        finally:
            engine.dispose()

    return run_together(WORKERS, one)


def test_the_poll_budget_holds_across_workers_racing_at_each_instant(engine: Engine, db_url: str) -> None:
    budget = PollBudget(qps=20, burst=5)
    start_ns = 1_700_000_000 * SECOND_NS
    instants = [start_ns + i * SECOND_NS // 10 for i in range(11)]  # one second, in tenths

    def hammer(limits: UpstreamLimits, _index: int) -> int:
        granted = 0
        for now_ns in instants:  # each worker asks 10 times at each instant: far more than the budget
            granted += sum(limits.try_poll(budget, now_ns) == 0.0 for _ in range(10))
        return granted

    grants = sum(_each_worker(db_url, hammer))
    # The burst at the start, then 20 a second: 5 + 20 over the window, never one more.
    assert grants == 5 + 20, grants


def test_a_refused_poll_says_how_long_until_the_next_grant(engine: Engine) -> None:
    limits = UpstreamLimits(engine, UPSTREAM)
    budget = PollBudget(qps=4)
    assert limits.try_poll(budget, SECOND_NS) == 0.0
    assert limits.try_poll(budget, SECOND_NS) == 0.25
    assert limits.try_poll(budget, SECOND_NS + SECOND_NS // 4) == 0.0


def test_upstreams_have_budgets_of_their_own(engine: Engine) -> None:
    budget = PollBudget(qps=1)
    other = UpstreamLimits(engine, upstream_name("http://upstream.test", "sk-other"))
    assert UpstreamLimits(engine, UPSTREAM).try_poll(budget, SECOND_NS) == 0.0
    assert other.try_poll(budget, SECOND_NS) == 0.0
    assert "sk-other" not in upstream_name("http://upstream.test", "sk-other")  # a fingerprint, not the key


def test_no_more_tasks_hold_a_slot_than_the_upstream_has(engine: Engine, db_url: str) -> None:
    held = _each_worker(db_url, lambda limits, i: int(limits.take_slot(f"task-{i}", 3, 1000, 60)))
    assert sum(held) == 3
    assert UpstreamLimits(engine, UPSTREAM).in_flight(1000) == 3


def test_a_slot_is_kept_renewed_released_and_taken_over_after_expiry(engine: Engine) -> None:
    limits = UpstreamLimits(engine, UPSTREAM)
    assert limits.take_slot("a", 1, now_ms=0, ttl_s=10)
    assert limits.take_slot("a", 1, now_ms=1, ttl_s=10)  # its own again (a re-claimed task)
    assert not limits.take_slot("b", 1, now_ms=2, ttl_s=10)
    assert limits.renew_slot("a", now_ms=9_000, ttl_s=10)
    assert not limits.take_slot("b", 1, now_ms=15_000, ttl_s=10)  # renewed until 19 s
    assert limits.take_slot("b", 1, now_ms=19_001, ttl_s=10)  # a's worker died: expired, taken over
    assert not limits.renew_slot("a", now_ms=19_002, ttl_s=10)
    limits.release_slot("b")
    assert limits.in_flight(19_003) == 0
    assert limits.take_slot("c", 1, now_ms=19_004, ttl_s=10)
