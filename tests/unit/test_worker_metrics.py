"""WorkerMetrics: phase histograms, device seconds, outcomes and heartbeats, each in its own registry."""

from __future__ import annotations

import time
from typing import cast

import pytest
from prometheus_client import CollectorRegistry

from videosynth.domain.progress import WorkProgress
from videosynth.store.protocols import TaskStore
from videosynth.worker.heartbeat import Heartbeat
from videosynth.worker.metrics import WorkerMetrics


def test_worker_metrics_phases_device_seconds_and_outcomes() -> None:
    registry = CollectorRegistry()
    worker = WorkerMetrics(registry, device="cuda:0")
    worker.observe_phase("queue_wait", "wan2.7-t2v", 2.5)
    with worker.timed("generate", "wan2.7-t2v"):
        time.sleep(0.02)
    with pytest.raises(RuntimeError), worker.timed("encode", "wan2.7-t2v"):
        raise RuntimeError("encoder broke")
    worker.task_finished("SUCCEEDED", "wan2.7-t2v", total_seconds=12.0)
    worker.task_finished("LOST", "wan2.7-t2v")
    worker.heartbeat("ok")
    worker.heartbeat("lost")

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    phase = "videosynth_task_phase_seconds"
    assert sample(f"{phase}_sum", phase="queue_wait", model="wan2.7-t2v") == 2.5
    generated = sample(f"{phase}_sum", phase="generate", model="wan2.7-t2v")
    assert generated is not None and 0.02 <= generated < 1
    assert sample("videosynth_gpu_seconds_total", model="wan2.7-t2v", device="cuda:0") == generated
    assert sample(f"{phase}_count", phase="encode", model="wan2.7-t2v") == 1  # observed although it raised
    assert sample("videosynth_worker_tasks_finished_total", status="SUCCEEDED", model="wan2.7-t2v") == 1
    assert sample("videosynth_worker_tasks_finished_total", status="LOST", model="wan2.7-t2v") == 1
    assert sample("videosynth_task_duration_seconds_count", status="SUCCEEDED", model="wan2.7-t2v") == 1
    assert sample("videosynth_worker_heartbeats_total", result="ok") == 1
    assert sample("videosynth_worker_heartbeats_total", result="lost") == 1
    beat = sample("videosynth_worker_last_heartbeat_timestamp_seconds")
    assert beat is not None and abs(beat - time.time()) < 60


def test_worker_metrics_reject_unbounded_labels() -> None:
    worker = WorkerMetrics(CollectorRegistry())
    with pytest.raises(ValueError, match="phase"):
        worker.observe_phase("denoise", "m", 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="status"):
        worker.task_finished("DONE", "m")
    with pytest.raises(ValueError, match="result"):
        worker.heartbeat("maybe")


class _FlakyStore:
    """A TaskStore stand-in whose heartbeat succeeds, then fails to reach the store, then finds the lease gone."""

    def __init__(self) -> None:
        self.answers: list[bool | None] = [True, None, False]

    def heartbeat(
        self, task_id: str, worker_id: str, now_ms: int, lease_s: float, progress: int | WorkProgress | None = None
    ) -> bool:
        answer = self.answers.pop(0) if self.answers else False
        if answer is None:
            raise ConnectionError("store unreachable")
        return answer


def test_heartbeat_reports_each_renewal_to_the_metrics() -> None:
    registry = CollectorRegistry()
    worker = WorkerMetrics(registry)
    store = cast(TaskStore, _FlakyStore())
    with Heartbeat(store, "task-1", "w", lease_s=10, interval_s=0.01, on_beat=worker.heartbeat) as beat:
        assert beat.lost.wait(5)
    for result in ("ok", "error", "lost"):
        assert registry.get_sample_value("videosynth_worker_heartbeats_total", {"result": result}) == 1
