"""Prometheus metrics of one worker process: phase latencies, device seconds, finished tasks, heartbeats.

A worker is its own process (the embedded one too), so it has its own registry and, when asked, its own
exposition port. The API's /metrics shows what the task table knows (queue depth, leases); this shows what
only the worker knows (how long each phase took, how long the device was busy).

Usage in the runner::

    metrics = WorkerMetrics(device="cuda:0")
    metrics.observe_phase("queue_wait", model, (task.scheduled_ms - task.submit_ms) / 1000)
    with metrics.timed("generate", model):  # also adds to videosynth_gpu_seconds_total{model, device}
        output = backend.run(job, context)
    metrics.task_finished("SUCCEEDED", model, total_seconds=...)

The exposition server (``serve``) has no authentication: bind it to loopback or a private interface only.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from threading import Lock, Thread
from typing import Literal
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

Phase = Literal["queue_wait", "extend", "generate", "encode", "sign", "upload", "images"]
PHASES: tuple[Phase, ...] = ("queue_wait", "extend", "generate", "encode", "sign", "upload", "images")
# How a worker's turn with a task ended. RELEASED: given back on shutdown; LOST: the lease was lost (another
# worker or the requeue sweep owns the task now), so this worker's result was discarded.
FINISH_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "RELEASED", "LOST"})
HEARTBEAT_RESULTS = frozenset({"ok", "lost", "error"})
# Phases span a 50 ms upload to a half-hour generation at full quality.
PHASE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)
TOTAL_BUCKETS = (1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0, 7200.0)
DEFAULT_HOST = "127.0.0.1"


@dataclass
class MetricsServer:
    """A running exposition server; ``port`` is the bound one (useful when asked for port 0)."""

    host: str
    port: int
    _server: WSGIServer
    _thread: Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class WorkerMetrics:
    def __init__(self, registry: CollectorRegistry | None = None, device: str = "cpu") -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.device = device
        self._phase = Histogram(
            "videosynth_task_phase_seconds",
            "Time a task spent in each phase: queue_wait (submit → first claim), extend (prompt extension), "
            "generate (the model on the device), encode (fit, watermark, H.264), upload (blob store put), "
            "images (the thumbnail and spritesheet, made and stored).",
            ["phase", "model"],
            buckets=PHASE_BUCKETS,
            registry=self.registry,
        )
        self._total = Histogram(
            "videosynth_task_duration_seconds",
            "Submit → finish, by the status this worker finished the task with.",
            ["status", "model"],
            buckets=TOTAL_BUCKETS,
            registry=self.registry,
        )
        self._device_seconds = Counter(
            "videosynth_gpu_seconds",
            "Wall time the model ran on the device (the 'generate' phase), by model and device.",
            ["model", "device"],
            registry=self.registry,
        )
        self._finished = Counter(
            "videosynth_worker_tasks_finished",
            "Tasks this worker finished, by outcome: SUCCEEDED, FAILED, CANCELED (by its upstream), RELEASED (given "
            "back), LOST (lease lost).",
            ["status", "model"],
            registry=self.registry,
        )
        self._heartbeats = Counter(
            "videosynth_worker_heartbeats",
            "Lease renewals: ok, lost (the lease was gone) or error (the store could not be reached).",
            ["result"],
            registry=self.registry,
        )
        self._last_heartbeat = Gauge(
            "videosynth_worker_last_heartbeat_timestamp_seconds",
            "Unix time of the last successful lease renewal.",
            registry=self.registry,
        )
        self._busy = Gauge(
            "videosynth_worker_busy", "1 while this worker is processing a task.", registry=self.registry
        )
        self._in_hand = 0
        self._in_hand_lock = Lock()

    def observe_phase(self, phase: Phase, model: str, seconds: float) -> None:
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
        seconds = max(seconds, 0.0)
        self._phase.labels(phase=phase, model=model).observe(seconds)
        if phase == "generate":
            self._device_seconds.labels(model=model, device=self.device).inc(seconds)

    @contextmanager
    def timed(self, phase: Phase, model: str) -> Iterator[None]:
        """Observe the block's wall time as ``phase``, whether it returns or raises (time spent is spent)."""
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, got {phase!r}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.observe_phase(phase, model, time.perf_counter() - start)

    @contextmanager
    def busy(self) -> Iterator[None]:
        # A pipelined worker holds two tasks at once (one encoding, the next denoising): busy until both are done.
        with self._in_hand_lock:
            self._in_hand += 1
            self._busy.set(1)
        try:
            yield
        finally:
            with self._in_hand_lock:
                self._in_hand -= 1
                self._busy.set(1 if self._in_hand else 0)

    def task_finished(self, status: str, model: str, total_seconds: float | None = None) -> None:
        if status not in FINISH_STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(FINISH_STATUSES))}, got {status!r}")
        self._finished.labels(status=status, model=model).inc()
        if total_seconds is not None:
            self._total.labels(status=status, model=model).observe(max(total_seconds, 0.0))

    def heartbeat(self, result: str) -> None:
        if result not in HEARTBEAT_RESULTS:
            raise ValueError(f"result must be one of {', '.join(sorted(HEARTBEAT_RESULTS))}, got {result!r}")
        self._heartbeats.labels(result=result).inc()
        if result == "ok":
            self._last_heartbeat.set_to_current_time()

    def serve(self, port: int, host: str = DEFAULT_HOST) -> MetricsServer:
        """Expose this registry at http://host:port/metrics from a daemon thread (port 0: any free port)."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(host=host, port=int(server.server_port), _server=server, _thread=thread)
