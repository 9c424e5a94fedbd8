"""Fair share between keys, and the per-key admission limits of a create, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete, event, select
from tests.support.tasks import T0, make_task
from tests.support.threads import run_together

from videosynth.domain.admission import Admission, AdmissionRefused
from videosynth.domain.task import Task
from videosynth.store.keys import SqlKeyStore
from videosynth.store.protocols import IdempotencyConflict, NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import key_usage


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


def test_the_rate_limit_is_a_bucket_of_a_minutes_creates_refilled_evenly(task_store: SqlTaskStore) -> None:
    def create(key: str, now_ms: int) -> Task:
        return task_store.create(make_task(key_id=key, submit_ms=now_ms), admission=Admission(now_ms, 3, 100))

    for _ in range(3):  # a full bucket: three at once
        create("k", T0)
    with pytest.raises(AdmissionRefused) as refused:
        create("k", T0 + 19_999)
    assert (refused.value.limit, refused.value.cap) == ("rate", 3)
    create("other", T0)  # per key
    create("k", T0 + 20_000)  # one every 60 s / 3
    with pytest.raises(AdmissionRefused):
        create("k", T0 + 39_999)
    for _ in range(3):  # idle for a minute: the bucket is full again, and holds no more than that
        create("k", T0 + 200_000)
    with pytest.raises(AdmissionRefused):
        create("k", T0 + 200_000)
    assert task_store.count_active("k") == 7


def test_refused_creates_leave_the_bucket_as_it_was(task_store: SqlTaskStore) -> None:
    limits = Admission(now_ms=T0, max_per_minute=2, max_active=1)
    task_store.create(make_task(key_id="k"), admission=limits)
    for _ in range(5):
        with pytest.raises(AdmissionRefused):  # over max_active: these must not spend the rate too
            task_store.create(make_task(key_id="k"), admission=limits)
    claimed = task_store.claim("w", None, T0, lease_s=60)
    assert claimed is not None
    task_store.finish_success(claimed.task_id, "w", T0, "r", {})
    task_store.create(make_task(key_id="k"), admission=limits)  # the bucket's second token is still there


def test_admission_caps_the_active_tasks_and_never_refuses_a_retry(task_store: SqlTaskStore) -> None:
    limits = Admission(now_ms=T0, max_per_minute=100, max_active=2)
    first = task_store.create(make_task(key_id="k"), "idem-1", "hash-1", admission=limits)
    task_store.create(make_task(key_id="k"), admission=limits)
    with pytest.raises(AdmissionRefused) as refused:
        task_store.create(make_task(key_id="k"), admission=limits)
    assert (refused.value.limit, refused.value.count, refused.value.cap) == ("active", 2, 2)
    retried = task_store.create(make_task(key_id="k"), "idem-1", "hash-1", admission=limits)
    assert retried.task_id == first.task_id  # a client's retry creates nothing, so no limit applies
    claimed = task_store.claim("w", None, T0 + 1, lease_s=60)
    assert claimed is not None
    task_store.finish_success(claimed.task_id, "w", T0 + 2, "r", {})
    task_store.create(make_task(key_id="k"), admission=limits)  # a finished task frees its slot


def test_admission_holds_under_concurrent_creates(task_store: SqlTaskStore) -> None:
    limits = Admission(now_ms=T0, max_per_minute=1000, max_active=5)

    def create(_: int) -> bool:
        try:
            task_store.create(make_task(key_id="k"), admission=limits)
        except AdmissionRefused:
            return False
        return True

    accepted = sum(run_together(12, create))
    assert accepted == 5  # exactly: one key's check-and-insert is serial on both databases
    assert task_store.count_active("k") == accepted


def test_a_task_given_back_by_a_dead_worker_goes_first(task_store: SqlTaskStore) -> None:
    first = task_store.create(make_task(key_id="a", submit_ms=T0))
    for i in range(3):
        task_store.create(make_task(key_id=f"other-{i}", submit_ms=T0 + 1 + i))
    claimed = task_store.claim("dead", None, T0 + 10, lease_s=1)
    assert claimed is not None and claimed.task_id == first.task_id
    assert task_store.requeue_expired(T0 + 5_000, max_attempts=3) == 1
    retried = task_store.claim("alive", None, T0 + 5_001, lease_s=60)
    assert retried is not None and retried.task_id == first.task_id and retried.attempts == 2


def test_a_batch_of_creates_is_judged_item_by_item_in_order(task_store: SqlTaskStore) -> None:
    limits = Admission(now_ms=T0, max_per_minute=100, max_active=2)
    first, second, third = (make_task(key_id="k", submit_ms=T0 + i) for i in range(3))
    retry_of_first = make_task(key_id="k", submit_ms=T0 + 3)
    other_body = make_task(key_id="k", submit_ms=T0 + 4)
    elsewhere = make_task(key_id="other", submit_ms=T0 + 5)
    outcomes = task_store.create_many(
        [
            NewTask(first, "idem", "h1", limits),
            NewTask(second, None, None, limits),
            NewTask(third, None, None, limits),  # the key's third active task: over max_active=2
            NewTask(retry_of_first, "idem", "h1", limits),  # a retry inside the same batch finds the first
            NewTask(other_body, "idem", "h2", limits),  # the same key, another body: a conflict
            NewTask(elsewhere, None, None, limits),  # another key is not affected
        ]
    )
    assert outcomes[0] == first and outcomes[1] == second and outcomes[5] == elsewhere
    assert isinstance(outcomes[2], AdmissionRefused) and outcomes[2].limit == "active"
    assert isinstance(outcomes[3], Task) and outcomes[3].task_id == first.task_id
    assert isinstance(outcomes[4], IdempotencyConflict)
    assert task_store.get(third.task_id) is None and task_store.get(retry_of_first.task_id) is None
    assert task_store.count_active("k") == 2 and task_store.count_active("other") == 1


def test_concurrent_batches_sharing_keys_neither_deadlock_nor_overshoot(task_store: SqlTaskStore) -> None:
    limits = Admission(now_ms=T0, max_per_minute=1000, max_active=7)
    keys = [f"key-{i}" for i in range(6)]

    def batch(index: int) -> int:
        # Each thread's batch names the keys in a different order: lock order must not follow item order.
        order = keys[index % 6 :] + keys[: index % 6]
        outcomes = task_store.create_many([NewTask(make_task(key_id=key), admission=limits) for key in order * 2])
        return sum(isinstance(outcome, Task) for outcome in outcomes)

    accepted = sum(run_together(8, batch))
    assert accepted == 6 * 7  # every key filled exactly to its limit: 8 batches x 12 creates offered
    assert all(task_store.count_active(key) == 7 for key in keys)


def usage_active(engine: Engine, key_id: str) -> int | None:
    """The key's usage row itself, as a create batch reads it."""
    with engine.connect() as conn:
        found: int | None = conn.execute(
            select(key_usage.c.active).where(key_usage.c.key_id == key_id)
        ).scalar_one_or_none()
        return found


def test_the_usage_row_follows_every_way_in_and_out_of_the_queue(task_store: SqlTaskStore, engine: Engine) -> None:
    made = [task_store.create(make_task(key_id="k", submit_ms=T0 + i)) for i in range(7)]
    assert usage_active(engine, "k") == task_store.count_active("k") == 7

    def claim(worker: str, lease_s: float = 60) -> Task:
        task = task_store.claim(worker, None, T0 + 100, lease_s=lease_s)
        assert task is not None
        return task

    task_store.finish_success(claim("w").task_id, "w", T0 + 200, "r", {})
    task_store.finish_failure(claim("w").task_id, "w", T0 + 200, "InternalError", "boom")
    assert task_store.finish_success(made[0].task_id, "w", T0 + 201, "r", {}) is False  # lost: no change
    assert task_store.cancel(made[2].task_id, "k", T0 + 300) is not None
    assert task_store.cancel(made[2].task_id, "k", T0 + 301) is not None  # canceled already: no change
    task_store.release(claim("w").task_id, "w")  # back to PENDING: still active
    task_store.heartbeat(claim("w").task_id, "w", T0 + 400, lease_s=60, progress=10)
    assert usage_active(engine, "k") == task_store.count_active("k") == 4

    claim("dead", lease_s=0.001)  # abandoned; with max_attempts 1 the sweep fails it
    assert task_store.requeue_expired(T0 + 10_000, max_attempts=1) >= 1
    assert usage_active(engine, "k") == task_store.count_active("k")

    task_store.purge_expired(T0 + 1_000_000, limit=100)  # PENDING and final tasks go; RUNNING ones stay
    assert usage_active(engine, "k") == task_store.count_active("k") >= 1


def test_a_key_from_the_key_store_has_its_usage_row_from_the_start(
    key_store: SqlKeyStore, task_store: SqlTaskStore, engine: Engine
) -> None:
    key, _secret = key_store.create("fresh", T0)
    assert usage_active(engine, key.key_id) == 0
    assert usage_active(engine, "never-seen") is None
    task_store.create(make_task(key_id="never-seen"), admission=Admission(T0, 1, 1))  # made on first use
    assert usage_active(engine, "never-seen") == 1


def test_a_key_whose_usage_row_is_missing_still_creates(
    key_store: SqlKeyStore, task_store: SqlTaskStore, engine: Engine
) -> None:
    old, _secret = key_store.create("older-release", T0)
    with engine.begin() as conn:  # as a key made by a release before key_usage existed, and not migrated
        conn.execute(delete(key_usage).where(key_usage.c.key_id == old.key_id))
    item = NewTask(make_task(key_id=old.key_id), admission=Admission(T0, 100, 100))
    first, second = task_store.create_many([item, NewTask(make_task(key_id="k"))])  # "k": never seen before
    assert isinstance(first, Task) and first.key_id == old.key_id and isinstance(second, Task)
    assert usage_active(engine, old.key_id) == 1 and usage_active(engine, "k") == 1


def test_a_batch_costs_the_same_few_statements_whatever_its_size(
    key_store: SqlKeyStore, task_store: SqlTaskStore, engine: Engine, backend: str
) -> None:
    keys = [key_store.create(f"k{i}", T0)[0].key_id for i in range(3)]
    limits = Admission(T0, 1000, 1000)

    def statements(size: int) -> list[str]:
        seen: list[str] = []

        def note(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
            seen.append(statement.split(maxsplit=1)[0].upper())

        event.listen(engine, "before_cursor_execute", note)
        try:
            items = [NewTask(make_task(key_id=keys[i % 3]), admission=limits) for i in range(size)]
            assert all(isinstance(outcome, Task) for outcome in task_store.create_many(items))
        finally:
            event.remove(engine, "before_cursor_execute", note)
        return [verb for verb in seen if verb != "BEGIN"]

    # One locking read of all the batch's usage rows; then PostgreSQL writes tasks and usage in one statement.
    expected = ["SELECT", "WITH"] if backend == "postgresql" else ["SELECT", "INSERT", "UPDATE"]
    assert statements(1) == statements(30) == expected
    assert [usage_active(engine, key) for key in keys] == [11, 10, 10]
