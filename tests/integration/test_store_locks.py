"""The store's lock order (store/admission.py) under real concurrency: create batches, cancels, finishes,
releases, requeues and purges over overlapping keys, each writer on its own engine as separate processes would be,
all complete without a deadlock, and every key's usage row equals a real count afterwards."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from tests.support.tasks import make_task

from videosynth.domain.admission import Admission
from videosynth.domain.task import TaskStatus
from videosynth.store.engine import make_engine
from videosynth.store.protocols import NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import key_usage

KEYS = [f"key-{i}" for i in range(4)]
ROUNDS = 30  # per writer: bounded work, so a hang shows as a timeout rather than a slow test
DEADLINE_S = 90.0
UNLIMITED = 10**6  # admission is checked but never refuses, so every create writes

Events = list[str]  # what each writer managed to do (list.append is atomic across threads)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def creator(store: SqlTaskStore, rng: random.Random, events: Events) -> None:
    """Batches naming the keys in a new order each time (twice each), some items with an Idempotency-Key."""
    for _ in range(ROUNDS):
        keys = rng.sample(KEYS, k=len(KEYS)) * 2
        items = [
            NewTask(
                make_task(key_id=key, submit_ms=now_ms()),
                idempotency_key=f"idem-{rng.random()}" if i % 3 == 0 else None,
                request_hash="h",
                admission=Admission(now_ms(), UNLIMITED, UNLIMITED),
            )
            for i, key in enumerate(keys)
        ]
        events.extend("create" for _outcome in store.create_many(items))


def canceller(store: SqlTaskStore, rng: random.Random, events: Events) -> None:
    """Cancels tasks of any status (most lose): a cancel waits for task rows that finishers hold."""
    for _ in range(ROUNDS):
        key = rng.choice(KEYS)
        tasks = store.list(key, 1, 20).tasks
        for task in rng.sample(tasks, k=min(3, len(tasks))):
            stamp = now_ms()
            after = store.cancel(task.task_id, key, stamp)
            if after is not None and after.status is TaskStatus.CANCELED and after.end_ms == stamp:
                events.append("cancel")


def worker(store: SqlTaskStore, rng: random.Random, events: Events) -> None:
    """Claims and ends each task one of four ways; an abandoned one is left for the sweeper."""
    name = f"worker-{id(store)}"
    for _ in range(ROUNDS):
        task = store.claim(name, None, now_ms(), lease_s=0.05)
        if task is None:
            time.sleep(0.002)
            continue
        ending = rng.choice(("succeed", "fail", "release", "abandon"))
        if ending == "succeed":
            won = store.finish_success(task.task_id, name, now_ms(), "r.mp4", {"video_count": 1})
        elif ending == "fail":
            won = store.finish_failure(task.task_id, name, now_ms(), "InternalError", "boom")
        elif ending == "release":
            won = store.release(task.task_id, name)
        else:
            won = True
        if won:
            events.append(ending)


def sweeper(store: SqlTaskStore, rng: random.Random, events: Events) -> None:
    """Requeues (or fails) expired leases and purges old tasks: writes that release several keys at once."""
    for _ in range(ROUNDS):
        events.extend("requeue" for _ in range(store.requeue_expired(now_ms(), max_attempts=2)))
        events.extend("purge" for _ in store.purge_expired(now_ms() - rng.randrange(50, 400), limit=10))
        time.sleep(0.002)


Writer = Callable[[SqlTaskStore, random.Random, Events], None]


def run_writers(url: str, writers: list[Writer]) -> Counter[str]:
    """Every writer on a thread and an engine of its own, released at once; each must finish, none may fail,
    within DEADLINE_S. Returns what they did."""
    engines = [make_engine(url) for _ in writers]
    events: Events = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(writers))

    def run(index: int) -> None:
        try:
            start.wait()
            writers[index](SqlTaskStore(engines[index]), random.Random(index), events)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,), daemon=True) for index in range(len(writers))]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + DEADLINE_S
        for thread in threads:
            thread.join(timeout=max(deadline - time.monotonic(), 0))
        assert not any(thread.is_alive() for thread in threads), f"writers still waiting after {DEADLINE_S} s"
    finally:
        for engine in engines:
            engine.dispose()
    assert not errors, f"{len(errors)} writer(s) failed, the first with {errors[0]!r}"
    return Counter(events)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_concurrent_writers_over_shared_keys_never_deadlock_and_keep_usage_exact(engine: Engine, db_url: str) -> None:
    done = run_writers(db_url, [creator, creator, creator, canceller, canceller, worker, worker, sweeper])

    # Every kind of usage-changing write really ran concurrently with the others.
    assert set(done) == {"create", "cancel", "succeed", "fail", "release", "abandon", "requeue", "purge"}, done
    store = SqlTaskStore(engine)
    with engine.connect() as conn:
        usage = {key: active for key, active in conn.execute(select(key_usage.c.key_id, key_usage.c.active))}
    assert usage == {key: store.count_active(key) for key in KEYS}
