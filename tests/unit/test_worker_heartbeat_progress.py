"""The heartbeat publishes what the work is at (phase, step, ETA) with the lease renewal."""

from __future__ import annotations

import threading
from typing import cast

from videosynth.domain.progress import Phase, WorkProgress, denoising, entering
from videosynth.store.protocols import TaskStore
from videosynth.worker.heartbeat import Heartbeat


class _RecordingStore:
    """A TaskStore stand-in that records each heartbeat's progress and says when it saw ``wanted``."""

    def __init__(self, wanted: WorkProgress) -> None:
        self.published: list[int | WorkProgress | None] = []
        self._wanted = wanted
        self.seen = threading.Event()

    def heartbeat(
        self, task_id: str, worker_id: str, now_ms: int, lease_s: float, progress: int | WorkProgress | None = None
    ) -> bool:
        self.published.append(progress)
        if progress == self._wanted:
            self.seen.set()
        return True


def test_each_report_is_published_soon_and_the_last_one_wins() -> None:
    last = entering(Phase.ENCODING)
    store = _RecordingStore(last)
    # a long interval: only the reports themselves can wake the heartbeat to publish
    with Heartbeat(cast(TaskStore, store), "task-1", "w", lease_s=60, interval_s=3600, min_gap_s=0) as beat:
        for step in range(1, 5):
            beat.report(denoising(step, 4, elapsed_s=step * 0.1))
        beat.report(last)
        assert store.seen.wait(30)
    # reports that came faster than the heartbeat wrote are coalesced: what went out is in the order reported
    steps = [item.step for item in store.published if isinstance(item, WorkProgress) and item.step is not None]
    assert steps == sorted(steps)
