"""The worker's published progress (phase, step of steps, ETA; migration 0007) on both stores."""

from __future__ import annotations

from tests.support.tasks import LEASE_S, T0, make_task

from videosynth.domain.progress import Phase, WorkProgress, denoising, entering
from videosynth.domain.task import Task
from videosynth.store.queue import SqlTaskStore

LEASE_MS = round(LEASE_S * 1000)


def _read(store: SqlTaskStore, task_id: str) -> Task:
    task = store.get(task_id)
    assert task is not None
    return task


def _work(task: Task) -> tuple[str | None, int, int | None, int | None, int | None]:
    return (task.phase, task.progress, task.step, task.steps, task.eta_ms)


def test_heartbeats_store_the_phase_step_and_eta(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    assert _work(_read(task_store, task.task_id)) == (None, 0, None, None, None)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 1, LEASE_S, entering(Phase.EXTENDING_PROMPT))
    assert _work(_read(task_store, task.task_id)) == ("extending_prompt", 1, None, None, None)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 2, LEASE_S, denoising(10, 40, elapsed_s=5.0))
    assert _work(_read(task_store, task.task_id)) == ("denoising", 26, 10, 40, 15_000)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 3, LEASE_S, entering(Phase.ENCODING))
    assert _work(_read(task_store, task.task_id)) == ("encoding", 90, None, None, None)
    # the percent stays monotone whatever a late report says; the phase is what was published last
    assert task_store.heartbeat(task.task_id, "w1", T0 + 4, LEASE_S, WorkProgress(Phase.UPLOADING, 10))
    assert _work(_read(task_store, task.task_id)) == ("uploading", 90, None, None, None)


def test_a_requeued_or_released_task_has_no_published_work(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    task_store.heartbeat(task.task_id, "w1", T0 + 1, LEASE_S, denoising(3, 4, elapsed_s=1.0))
    assert task_store.requeue_expired(T0 + 1 + LEASE_MS + 1, max_attempts=3) == 1
    assert _work(_read(task_store, task.task_id)) == (None, 0, None, None, None)

    now = T0 + 2 * LEASE_MS
    task_store.claim("w2", None, now, LEASE_S)
    task_store.heartbeat(task.task_id, "w2", now + 1, LEASE_S, denoising(1, 4, elapsed_s=1.0))
    assert task_store.release(task.task_id, "w2")
    assert _work(_read(task_store, task.task_id)) == (None, 0, None, None, None)
