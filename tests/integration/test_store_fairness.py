"""Fair share between keys, per-key queue counts and the shared rate limiter, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

from sqlalchemy import Engine
from tests.integration.test_store import T0, make_task

from videosynth.store.limits import SqlRateLimiter
from videosynth.store.sql import SqlTaskStore


def test_a_busy_key_does_not_starve_a_single_task(task_store: SqlTaskStore) -> None:
    for i in range(6):
        task_store.create(make_task(key_id="busy", submit_ms=T0 + i))
    task_store.create(make_task(key_id="quiet", submit_ms=T0 + 100))
    order = []
    for step in range(7):
        claimed = task_store.claim("w1", None, T0 + 1000 + step, lease_s=60)
        assert claimed is not None
        order.append(claimed.key_id)
        task_store.finish_success(claimed.task_id, "w1", T0 + 1000 + step, "k", {})
    assert order[:2] == ["busy", "quiet"]  # the quiet key's one task goes second, not seventh
    assert order.count("busy") == 6


def test_keys_alternate_and_stay_fifo_within_a_key(task_store: SqlTaskStore) -> None:
    created = {
        key: [task_store.create(make_task(key_id=key, submit_ms=T0 + 2 * i + offset)).task_id for i in range(3)]
        for offset, key in enumerate(("a", "b"))
    }
    claimed = []
    for step in range(6):
        task = task_store.claim("w", None, T0 + 1000 + step, lease_s=60)
        assert task is not None
        claimed.append(task)
    assert [t.key_id for t in claimed] == ["a", "b", "a", "b", "a", "b"]
    assert [t.task_id for t in claimed if t.key_id == "a"] == created["a"]


def test_count_active_counts_pending_and_running_of_one_key(task_store: SqlTaskStore) -> None:
    ids = [task_store.create(make_task(key_id="k", submit_ms=T0 + i)).task_id for i in range(3)]
    task_store.create(make_task(key_id="other", submit_ms=T0 + 100))
    running = task_store.claim("w", None, T0 + 10, lease_s=60)
    assert running is not None and running.task_id == ids[0]
    assert task_store.count_active("k") == 3
    task_store.finish_success(ids[0], "w", T0 + 20, "k", {})
    task_store.cancel(ids[1], "k", T0 + 30)
    assert task_store.count_active("k") == 1


def test_rate_limiter_counts_per_key_per_window_across_threads(engine: Engine) -> None:
    limiter = SqlRateLimiter(engine, window_s=60)
    now = 1_800_000_000_000
    counts: list[int] = []
    lock = threading.Lock()

    def hit() -> None:
        for _ in range(5):
            value = limiter.hit("k", now)
            with lock:
                counts.append(value)

    threads = [threading.Thread(target=hit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(counts) == list(range(1, 21))  # every hit counted exactly once, no lost update
    assert limiter.hit("other", now) == 1
    assert limiter.hit("k", now + 60_000) == 1  # a new window starts from one


def test_a_task_given_back_by_a_dead_worker_goes_first(task_store: SqlTaskStore) -> None:
    first = task_store.create(make_task(key_id="a", submit_ms=T0))
    for i in range(3):
        task_store.create(make_task(key_id=f"other-{i}", submit_ms=T0 + 1 + i))
    claimed = task_store.claim("dead", None, T0 + 10, lease_s=1)
    assert claimed is not None and claimed.task_id == first.task_id
    assert task_store.requeue_expired(T0 + 5_000, max_attempts=3) == 1
    retried = task_store.claim("alive", None, T0 + 5_001, lease_s=60)
    assert retried is not None and retried.task_id == first.task_id and retried.attempts == 2
