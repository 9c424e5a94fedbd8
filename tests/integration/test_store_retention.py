"""TaskStore.purge_expired on real databases (SQLite file, PostgreSQL; fixtures in conftest)."""

from __future__ import annotations

import threading
import uuid

import pytest
from tests.support.tasks import T0, make_task

from videosynth.domain.task import Task, TaskStatus
from videosynth.store.protocols import Purged
from videosynth.store.queue import SqlTaskStore

DAY_MS = 86_400_000
WORKER = "worker-1"


def add_task(store: SqlTaskStore, status: TaskStatus, submit_ms: int) -> Task:
    """A task driven to ``status`` through the store's own transitions, as the service and workers do."""
    task_id = str(uuid.uuid4())
    # A model of its own, so claiming this task never picks up another PENDING one.
    model = f"model-{task_id}"
    task = make_task(task_id=task_id, model=model, submit_ms=submit_ms)
    store.create(task)
    now = submit_ms + 1000
    if status is TaskStatus.CANCELED:
        store.cancel(task_id, "key-a", now)
    elif status is not TaskStatus.PENDING:
        assert store.claim(WORKER, [model], now, lease_s=10.0) is not None
        if status is TaskStatus.SUCCEEDED:
            assert store.finish_success(task_id, WORKER, now, f"{task_id}.mp4", {"video_count": 1})
        elif status is TaskStatus.FAILED:
            assert store.finish_failure(task_id, WORKER, now, "InternalError", "boom")
    stored = store.get(task_id)
    assert stored is not None
    assert stored.status is status
    return stored


def test_only_final_and_pending_tasks_submitted_before_the_cutoff_are_purged(task_store: SqlTaskStore) -> None:
    cutoff = T0 + DAY_MS
    old: dict[TaskStatus, Task] = {
        status: add_task(task_store, status, T0) for status in TaskStatus if status is not TaskStatus.UNKNOWN
    }
    # Exactly at the cutoff is not "before" it: kept.
    boundary = {status: add_task(task_store, status, cutoff) for status in old}

    purged = task_store.purge_expired(cutoff, limit=100)

    # PENDING too: past retention it reads UNKNOWN, so no worker may still run it.
    final = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED, TaskStatus.PENDING)
    expected = {(old[status].task_id, old[status].result_key) for status in final}
    assert set(purged) == expected
    assert len(purged) == len(expected)
    assert dict(purged)[old[TaskStatus.SUCCEEDED].task_id] == f"{old[TaskStatus.SUCCEEDED].task_id}.mp4"
    for status in final:
        assert task_store.get(old[status].task_id) is None
    # RUNNING is never purged, however old: a worker holds it and will finish it.
    assert task_store.get(old[TaskStatus.RUNNING].task_id) is not None
    assert task_store.claim(WORKER, None, cutoff + 1, lease_s=10.0) is not None  # the boundary PENDING only
    assert task_store.claim(WORKER, None, cutoff + 1, lease_s=10.0) is None
    for task in boundary.values():
        assert task_store.get(task.task_id) is not None
    assert task_store.purge_expired(cutoff, limit=100) == []


def test_purge_works_in_bounded_batches_oldest_first(task_store: SqlTaskStore) -> None:
    tasks = [add_task(task_store, TaskStatus.SUCCEEDED, T0 + i) for i in range(7)]
    batches = [task_store.purge_expired(T0 + DAY_MS, limit=3) for _ in range(4)]

    # Each batch holds the oldest tasks left; the order within a batch is whatever DELETE … RETURNING gives.
    assert [{task_id for task_id, _ in batch} for batch in batches] == [
        {task.task_id for task in tasks[0:3]},
        {task.task_id for task in tasks[3:6]},
        {tasks[6].task_id},
        set(),
    ]


def test_limit_must_be_positive(task_store: SqlTaskStore) -> None:
    with pytest.raises(ValueError, match="limit"):
        task_store.purge_expired(T0, limit=0)


def test_concurrent_purgers_report_each_task_exactly_once(task_store: SqlTaskStore) -> None:
    """Two sweepers (e.g. two workers) at once: every task is deleted, and only one of them reports it, so
    only one deletes its blob."""
    statuses = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED)
    tasks = [add_task(task_store, statuses[i % 3], T0 + i) for i in range(60)]
    sweepers = 4
    barrier = threading.Barrier(sweepers)
    reports: list[Purged] = [[] for _ in range(sweepers)]
    errors: list[BaseException] = []

    def sweeper(index: int) -> None:
        try:
            barrier.wait()
            while batch := task_store.purge_expired(T0 + DAY_MS, limit=5):
                reports[index].extend(batch)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweeper, args=(i,)) for i in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    reported = [task_id for report in reports for task_id, _ in report]
    assert sorted(reported) == sorted(task.task_id for task in tasks)
    assert all(task_store.get(task.task_id) is None for task in tasks)


def test_uploads_are_recorded_once_and_purged_once_expired(task_store: SqlTaskStore) -> None:
    assert task_store.record_upload("upload-a", T0 + 10)
    assert not task_store.record_upload("upload-a", T0 + 99)  # one name holds one file
    for index in range(3):
        assert task_store.record_upload(f"upload-b{index}", T0 + 20 + index)
    assert task_store.record_upload("upload-later", T0 + DAY_MS)
    # Oldest first, bounded, and only what expired before the cut-off.
    assert list(task_store.purge_uploads(T0 + 22, limit=2)) == ["upload-a", "upload-b0"]
    assert list(task_store.purge_uploads(T0 + 22, limit=2)) == ["upload-b1"]
    assert list(task_store.purge_uploads(T0 + 22, limit=2)) == []
    assert sorted(task_store.purge_uploads(T0 + DAY_MS + 1, limit=10)) == ["upload-b2", "upload-later"]
    with pytest.raises(ValueError, match="limit starts at 1"):
        task_store.purge_uploads(T0, limit=0)
