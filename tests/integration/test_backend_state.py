"""Task.backend_state on real databases (SQLite file, PostgreSQL): saved only under the lease, kept across claims."""

from __future__ import annotations

from sqlalchemy import Engine, insert
from tests.integration.test_reads import find
from tests.integration.test_store import LEASE_MS, bare_task_row, claimed
from tests.support.tasks import LEASE_S, T0, make_task

from videosynth.domain.task import TaskStatus
from videosynth.store import migrate
from videosynth.store.connect import open_stores
from videosynth.store.engine import make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import tasks

STATE = {"upstream_task_id": "0385dc79-5ff8", "polls": 3, "note": "上游任务", "nested": {"ok": [1, 2.5, None]}}


def running(store: SqlTaskStore, worker: str) -> str:
    """A new task, claimed by ``worker`` at T0."""
    task = store.create(make_task())
    got = store.claim(worker, None, T0, LEASE_S)
    assert got is not None and got.task_id == task.task_id
    return task.task_id


def test_a_new_task_has_no_state_and_its_worker_can_save_one(task_store: SqlTaskStore) -> None:
    task_id = running(task_store, "w1")
    assert claimed(task_store, task_id).backend_state == {}

    assert task_store.save_backend_state(task_id, "w1", STATE)
    assert claimed(task_store, task_id).backend_state == STATE
    assert task_store.save_backend_state(task_id, "w1", {"polls": 4})  # replaced, not merged
    assert claimed(task_store, task_id).backend_state == {"polls": 4}


def test_the_next_claimer_after_a_lease_expired_gets_the_state(task_store: SqlTaskStore) -> None:
    task_id = running(task_store, "w1")
    assert task_store.save_backend_state(task_id, "w1", STATE)
    # w1 dies: its lease runs out and the task goes back to the queue with its state.
    assert task_store.requeue_expired(T0 + LEASE_MS + 1, max_attempts=3) == 1
    assert claimed(task_store, task_id).status is TaskStatus.PENDING

    again = task_store.claim("w2", None, T0 + LEASE_MS + 2, LEASE_S)

    assert again is not None and again.task_id == task_id
    assert (again.backend_state, again.attempts) == (STATE, 2)


def test_a_worker_that_lost_its_lease_cannot_save(task_store: SqlTaskStore) -> None:
    task_id = running(task_store, "w1")
    assert task_store.save_backend_state(task_id, "w1", {"upstream_task_id": "first"})
    assert task_store.requeue_expired(T0 + LEASE_MS + 1, max_attempts=3) == 1

    assert not task_store.save_backend_state(task_id, "w1", {"upstream_task_id": "late"})  # requeued: PENDING
    assert task_store.claim("w2", None, T0 + LEASE_MS + 2, LEASE_S) is not None
    assert not task_store.save_backend_state(task_id, "w1", {"upstream_task_id": "late"})  # w2's now
    assert claimed(task_store, task_id).backend_state == {"upstream_task_id": "first"}

    assert task_store.save_backend_state(task_id, "w2", {"upstream_task_id": "first", "polls": 1})
    assert task_store.finish_success(task_id, "w2", T0 + LEASE_MS + 3, f"{task_id}.mp4", {"video_count": 1})
    assert not task_store.save_backend_state(task_id, "w2", {})  # finished: nobody's lease any more
    assert claimed(task_store, task_id).backend_state == {"upstream_task_id": "first", "polls": 1}


def test_a_task_given_back_on_shutdown_keeps_its_state(task_store: SqlTaskStore) -> None:
    task_id = running(task_store, "w1")
    assert task_store.save_backend_state(task_id, "w1", STATE)
    assert task_store.release(task_id, "w1")

    again = task_store.claim("w2", None, T0 + 1, LEASE_S)

    assert again is not None and again.backend_state == STATE


def test_the_poll_read_path_decodes_the_state_as_the_store_does(engine: Engine, task_store: SqlTaskStore) -> None:
    key, secret = SqlKeyStore(engine).create("alice", T0)
    task = task_store.create(make_task(key_id=key.key_id))
    assert task_store.claim("w1", None, T0, LEASE_S) is not None
    assert task_store.save_backend_state(task.task_id, "w1", STATE)

    [found] = find(engine, [(secret, task.task_id)])

    assert found.task is not None and found.task.backend_state == STATE
    assert found.task == task_store.get(task.task_id)


def test_rows_from_before_migration_0005_read_with_an_empty_state(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0004")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            row = bare_task_row("old", "key-a", "PENDING") | {"request_json": make_task().request.to_dict()}
            conn.execute(insert(tasks).values(row))
    finally:
        engine.dispose()
    migrate.upgrade(empty_url)
    store, _, engine = open_stores(empty_url)
    try:
        old = store.claim("w1", None, T0, LEASE_S)
        assert old is not None and (old.task_id, old.backend_state) == ("old", {})
        assert store.save_backend_state("old", "w1", STATE)
        assert claimed(store, "old").backend_state == STATE
    finally:
        engine.dispose()
