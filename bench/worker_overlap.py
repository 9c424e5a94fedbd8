"""Worker pipelining: sequential versus overlapped workers on one queue of tasks, and the encoder's time per frame.

    python bench/worker_overlap.py [--tasks 6] [--steps 20] [--resolution 720P] [--duration 5] [--threads 1]
                                   [--encode-frames 241] [--json out.json]

For each mode (worker_overlap off, then on) a fresh data dir (temp SQLite store, local results), the demo model
(tiny, CPU) and N PENDING tasks; the real worker loop runs until all N SUCCEEDED. Reported per mode:
  - tasks/min: N over the wall time from the worker's start to the last task's end;
  - model idle: the time the backend is not inside run() between the first run's start and the last run's end,
    over the wall time (the goal on a GPU is under 2 %; on a small CPU the encoder competes with the model for
    the cores, so the overlap gains less there).
Then the real encode_mp4 on synthetic 1920×1080 frames (241 = a 15 s clip at 16 fps, by default): ms per frame.
Not a test: never collected by pytest (bench/ is outside testpaths). Every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from videosynth.backends.base import Backend, FinishedVideo, Frames, GenerationJob, RunContext, WrappedBackend
from videosynth.compose import prepare_database, stores
from videosynth.domain.catalog import WAN27_SIZES
from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import Task, TaskStatus
from videosynth.media.encode import encode_mp4
from videosynth.settings import Settings
from videosynth.worker.process import build_worker

MODEL = "wan2.7-t2v"


class TimedBackend(WrappedBackend):
    """The backend, with the wall-clock span of each run() recorded."""

    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.spans: list[tuple[float, float]] = []

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        started = time.monotonic()
        try:
            return self.inner.run(job, context)
        finally:
            self.spans.append((started, time.monotonic()))


@dataclass(frozen=True)
class ModeResult:
    mode: str
    tasks: int
    wall_s: float
    tasks_per_min: float
    model_busy_s: float
    model_idle_s: float
    model_idle_fraction: float


def _request(resolution: str, duration: int) -> GenerationRequest:
    width, height = WAN27_SIZES[resolution]["16:9"]
    return GenerationRequest(
        model=MODEL,
        prompt="a lighthouse in a storm, waves breaking",
        negative_prompt="",
        width=width,
        height=height,
        resolution=resolution,
        ratio="16:9",
        duration=duration,
        seed=7,
        prompt_extend=False,
        watermark=True,
    )


def _queue(settings: Settings, count: int, request: GenerationRequest) -> list[str]:
    tasks, _keys = stores(settings)
    now_ms = int(time.time() * 1000)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for n, task_id in enumerate(ids):
        task = Task(task_id, "bench", request, TaskStatus.PENDING, now_ms + n, str(uuid.uuid4()), seed=7 + n)
        tasks.create(task)
    return ids


def _wait_all(settings: Settings, ids: list[str], stop: threading.Event, timeout_s: float) -> None:
    tasks, _keys = stores(settings)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [tasks.get(task_id) for task_id in ids]
        if all(task is not None and task.status is TaskStatus.SUCCEEDED for task in found):
            break
        time.sleep(0.02)
    stop.set()


def run_mode(options: argparse.Namespace, overlap: bool, root: Path) -> ModeResult:
    settings = Settings(
        data_dir=root / ("overlapped" if overlap else "sequential"),
        model_steps=options.steps,
        torch_threads=options.threads,
        worker_overlap=overlap,
        poll_interval_s=0.01,
        lease_s=600.0,
        heartbeat_s=1.0,
    )
    prepare_database(settings, auto_migrate=True)
    timed: list[TimedBackend] = []

    def instrument(backend: Backend) -> Backend:
        timed.append(TimedBackend(backend))
        return timed[-1]

    worker = build_worker(settings, instrument=instrument)
    ids = _queue(settings, options.tasks, _request(options.resolution, options.duration))
    watcher = threading.Thread(target=_wait_all, args=(settings, ids, worker.stop, options.timeout_s), daemon=True)
    started = time.monotonic()
    watcher.start()
    worker.run()
    wall_s = time.monotonic() - started
    watcher.join(timeout=5)
    return _result("overlapped" if overlap else "sequential", len(ids), wall_s, timed[0].spans)


def _result(mode: str, count: int, wall_s: float, spans: list[tuple[float, float]]) -> ModeResult:
    busy_s = sum(end - start for start, end in spans)
    window_s = spans[-1][1] - spans[0][0] if spans else 0.0
    idle_s = max(window_s - busy_s, 0.0)
    return ModeResult(mode, count, wall_s, count / wall_s * 60, busy_s, idle_s, idle_s / wall_s)


def encoder_ms_per_frame(frames: int, root: Path) -> float:
    """The real encoder on synthetic 1080P frames: a moving gradient with some noise (neither flat nor pure noise)."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, 1920, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, 1080, dtype=np.float32)[:, None]
    clip = np.empty((frames, 1080, 1920, 3), dtype=np.uint8)
    for n in range(frames):
        base = (x + y * 0.5 + n * 4) % 256
        noise = rng.integers(0, 16, size=(1080, 1920), dtype=np.uint8)
        clip[n] = np.stack([base, (base * 0.7) % 256, 255 - base], axis=-1).astype(np.uint8) + noise[..., None]
    started = time.monotonic()
    encode_mp4(clip, root / "encoder.mp4", 16)
    return (time.monotonic() - started) / frames * 1000


def _table(results: list[ModeResult]) -> str:
    lines = [
        "| mode | tasks | wall s | tasks/min | model busy s | model idle s | model idle % |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r.mode} | {r.tasks} | {r.wall_s:.1f} | {r.tasks_per_min:.2f} | {r.model_busy_s:.1f} "
            f"| {r.model_idle_s:.1f} | {r.model_idle_fraction * 100:.1f} |"
        )
    return "\n".join(lines)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=6, help="tasks in the queue, per mode")
    parser.add_argument("--steps", type=int, default=20, help="denoising steps of the demo model")
    parser.add_argument("--resolution", default="720P", choices=sorted(WAN27_SIZES))
    parser.add_argument("--duration", type=int, default=5, help="seconds of video per task")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--encode-frames", type=int, default=241, help="1080P frames for the encoder figure")
    parser.add_argument("--timeout-s", type=float, default=1800.0, help="per mode: give up after this long")
    parser.add_argument("--json", type=Path, help="also write the figures here as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = _parse(argv)
    with tempfile.TemporaryDirectory(prefix="videosynth-overlap-") as root_name:
        root = Path(root_name)
        results = [run_mode(options, overlap, root) for overlap in (False, True)]
        per_frame_ms = encoder_ms_per_frame(options.encode_frames, root)
    print(_table(results))
    print(
        f"\nencode_mp4, 1920×1080: {per_frame_ms:.1f} ms/frame over {options.encode_frames} frames "
        f"(241 frames, 15 s at 16 fps: {per_frame_ms * 241 / 1000:.1f} s)"
    )
    argv_text = " ".join(sys.argv[1:] if argv is None else argv)
    print(f"Reproduce: `python bench/worker_overlap.py {argv_text}`")
    if options.json is not None:
        data = {"modes": [asdict(r) for r in results], "encode_1080p_ms_per_frame": per_frame_ms}
        options.json.write_text(json.dumps(data, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
