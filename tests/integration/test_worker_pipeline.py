"""The pipelined worker (worker_overlap): the next task denoises while the one before is encoded and stored, at most
one finishing while one generates, and a drain finishes both. Real SQLite store, encoder and blob folder."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest
from tests.support.fake_backend import FakeBackend
from tests.support.tasks import make_task

from videosynth.backends.base import RunContext
from videosynth.domain.task import TaskStatus
from videosynth.prompting.extender import NoExtension
from videosynth.storage.keys import Variant, blob_key
from videosynth.storage.local import LocalBlobStore
from videosynth.store.queue import SqlTaskStore
from videosynth.worker.runner import Worker, WorkerConfig

WAIT_S = 60.0  # a bound, never a measurement: every wait ends by an event long before


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the store's guarded updates are covered on both databases elsewhere


class HeldUpload(LocalBlobStore):
    """A blob folder whose upload of one task's video waits (bounded) until the next task is denoising."""

    def __init__(self, root: Path, held_key: str, release: threading.Event) -> None:
        super().__init__(root, b"secret")
        self._held_key, self._release = held_key, release
        self.reached = threading.Event()  # the held upload has begun
        self.released_in_time = False

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        if key == self._held_key:
            self.reached.set()
            self.released_in_time = self._release.wait(WAIT_S)
        super().put_file(key, source, content_type)


def _submit(tasks: SqlTaskStore, count: int) -> list[str]:
    made, now_ms = [], int(time.time() * 1000)  # recent: the worker's retention sweep keeps them
    for n in range(count):
        task = make_task(submit_ms=now_ms + n)
        made.append(tasks.create(replace(task, request=replace(task.request, duration=2, prompt_extend=False))))
    return [task.task_id for task in made]


def _worker(tasks: SqlTaskStore, blobs: LocalBlobStore, fake: FakeBackend, tmp: Path, overlap: bool) -> Worker:
    scratch = tmp / "scratch"
    scratch.mkdir(exist_ok=True)
    config = WorkerConfig("w1", 30.0, 0.05, 3, 0.01, scratch, overlap=overlap)
    return Worker(tasks, blobs, fake, NoExtension(), config)


def _status(tasks: SqlTaskStore, task_id: str) -> TaskStatus:
    task = tasks.get(task_id)
    assert task is not None
    return task.status


def _run_until(worker: Worker, done: threading.Event) -> None:
    """Run the worker's loop on a thread; stop it once ``done`` (bounded), then wait for it to drain."""
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    done.wait(WAIT_S)
    worker.stop.set()
    thread.join(WAIT_S)
    assert not thread.is_alive()


def _all_final(tasks: SqlTaskStore, ids: list[str], done: threading.Event) -> threading.Thread:
    def watch() -> None:
        for _ in range(int(WAIT_S / 0.01)):
            if all(_status(tasks, task_id) is TaskStatus.SUCCEEDED for task_id in ids):
                break
            threading.Event().wait(0.01)
        done.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def test_the_next_task_denoises_while_the_one_before_is_stored(task_store: SqlTaskStore, tmp_path: Path) -> None:
    first, second = _submit(task_store, 2)
    second_denoising = threading.Event()
    blobs = HeldUpload(tmp_path / "results", blob_key(first, Variant.VIDEO), second_denoising)
    seen_while_held: list[TaskStatus] = []

    def on_second(context: RunContext) -> None:
        if context.task_id == second:
            seen_while_held.append(_status(task_store, first))  # the first is still being stored
            second_denoising.set()

    fake = FakeBackend(steps=2, at_step={1: on_second})
    done = threading.Event()
    _all_final(task_store, [first, second], done)
    _run_until(_worker(task_store, blobs, fake, tmp_path, overlap=True), done)

    assert blobs.released_in_time and seen_while_held == [TaskStatus.RUNNING]
    assert [_status(task_store, t) for t in (first, second)] == [TaskStatus.SUCCEEDED, TaskStatus.SUCCEEDED]
    assert blobs.exists(blob_key(first, Variant.VIDEO)) and blobs.exists(blob_key(second, Variant.VIDEO))


@pytest.mark.parametrize(("overlap", "most_running"), [(True, 2), (False, 1)])
def test_at_most_one_task_finishes_while_one_generates(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path, overlap: bool, most_running: int
) -> None:
    ids = _submit(task_store, 4)
    running_at_start: list[int] = []

    def count_running(_context: RunContext) -> None:
        running_at_start.append(sum(_status(task_store, t) is TaskStatus.RUNNING for t in ids))

    fake = FakeBackend(steps=2, at_step={1: count_running})
    done = threading.Event()
    _all_final(task_store, ids, done)
    _run_until(_worker(task_store, blobs, fake, tmp_path, overlap=overlap), done)

    assert {_status(task_store, t) for t in ids} == {TaskStatus.SUCCEEDED}
    assert len(running_at_start) == 4 and max(running_at_start) <= most_running


def test_a_drain_finishes_the_task_being_stored_and_the_one_denoising(task_store: SqlTaskStore, tmp_path: Path) -> None:
    first, second, third = _submit(task_store, 3)
    release = threading.Event()
    blobs = HeldUpload(tmp_path / "results", blob_key(first, Variant.VIDEO), release)

    def stop_while_both_in_hand(context: RunContext) -> None:
        if context.task_id == second:
            worker.stop.set()  # SIGTERM's drain: claim no more, finish what is in hand
            release.set()

    worker = _worker(task_store, blobs, FakeBackend(steps=2, at_step={1: stop_while_both_in_hand}), tmp_path, True)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    thread.join(WAIT_S)  # it stops by itself once both are finished

    assert not thread.is_alive()
    assert blobs.released_in_time
    assert [_status(task_store, t) for t in (first, second, third)] == [
        TaskStatus.SUCCEEDED,
        TaskStatus.SUCCEEDED,
        TaskStatus.PENDING,
    ]
