"""The Worker itself over a real SQLite store, the real encoder and a blob folder, with an in-memory backend."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import av
import httpx
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from tests.support.fake_backend import FAKE_CAPABILITIES, FakeBackend, frames_for
from tests.support.tasks import make_task

from videosynth.backends.base import Backend, GenerationJob, RunContext
from videosynth.backends.relay import RelayBackend
from videosynth.domain.errors import InvalidParameter
from videosynth.domain.plan import plan_generation
from videosynth.domain.task import Task, TaskStatus
from videosynth.media.encode import encode_mp4
from videosynth.media.frames import fit_frames
from videosynth.media.probe import probe
from videosynth.media.thumbnails import SPRITE_TILE_WIDTH
from videosynth.media.watermark import watermark
from videosynth.prompting.base import ExtensionOutcome, PromptExtender
from videosynth.prompting.extender import NoExtension
from videosynth.registry import RelayEntry
from videosynth.storage.keys import Variant, blob_key
from videosynth.storage.local import LocalBlobStore
from videosynth.storage.protocols import BlobStore
from videosynth.store.queue import SqlTaskStore
from videosynth.worker.metrics import WorkerMetrics
from videosynth.worker.runner import Worker, WorkerConfig

LEASE_S = 30.0
WIDTH, HEIGHT = 1280, 720  # what make_task asks for (720P, 16:9)


@pytest.fixture
def backend() -> str:
    # Overrides conftest's parametrised database: the worker's logic is store-agnostic, and the store's guarded
    # updates are covered on both databases in test_store and test_backend_state.
    return "sqlite"


class Harness:
    """A task store, a blob folder and workers over them, each with its own backend and metrics."""

    def __init__(self, tasks: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path) -> None:
        self.tasks, self.blobs, self.tmp_path = tasks, blobs, tmp_path
        self.metrics: dict[str, WorkerMetrics] = {}

    def submit(self, **request: object) -> Task:
        task = make_task()
        params = {"duration": 2, "prompt_extend": False, **request}
        return self.tasks.create(replace(task, request=replace(task.request, **params)))  # type: ignore[arg-type]

    def worker(
        self,
        fake: Backend,
        worker_id: str = "w1",
        blobs: BlobStore | None = None,
        extender: PromptExtender | None = None,
    ) -> Worker:
        scratch = self.tmp_path / f"scratch-{worker_id}"
        scratch.mkdir(exist_ok=True)
        config = WorkerConfig(
            worker_id, LEASE_S, heartbeat_s=0.05, max_attempts=3, poll_interval_s=0.01, scratch_dir=scratch
        )
        self.metrics[worker_id] = WorkerMetrics()
        extender = extender or NoExtension()
        return Worker(self.tasks, blobs or self.blobs, fake, extender, config, self.metrics[worker_id])

    def get(self, task_id: str) -> Task:
        task = self.tasks.get(task_id)
        assert task is not None
        return task

    def steal(self, task_id: str, thief: str = "w2") -> None:
        """The lease runs out (its worker looked dead) and another worker claims the task."""
        assert self.tasks.requeue_expired(_now_ms() + round(LEASE_S * 1000) + 1, max_attempts=3) == 1
        stolen = self.tasks.claim(thief, None, _now_ms(), LEASE_S)
        assert stolen is not None and stolen.task_id == task_id

    def finished(self, status: str, worker_id: str = "w1") -> float | None:
        """How many tasks ``worker_id`` finished with ``status``, by its own metrics."""
        labels = {"status": status, "model": "wan2.7-t2v"}
        return self.metrics[worker_id].registry.get_sample_value("videosynth_worker_tasks_finished_total", labels)

    def results(self) -> list[str]:
        folder = self.tmp_path / "results"
        return sorted(p.name for p in folder.iterdir()) if folder.exists() else []

    def image(self, task_id: str, variant: Variant) -> npt.NDArray[np.uint8]:
        """The task's stored image of ``variant``, decoded: it must be a JPEG."""
        with self.blobs.open(blob_key(task_id, variant)) as stored:
            image = Image.open(io.BytesIO(stored.read()))
            assert image.format == "JPEG"
            return np.asarray(image.convert("RGB"))

    def frame(self, task_id: str, index: int) -> npt.NDArray[np.uint8]:
        """Frame ``index`` of the task's stored video, decoded."""
        with av.open(str(self.blobs.path(f"{task_id}.mp4"))) as container:
            frames = list(container.decode(video=0))
            return np.asarray(frames[index].to_ndarray(format="rgb24"), dtype=np.uint8)


def _sidecars_for(task_id: str) -> list[str]:
    return [f"{task_id}.record.json", f"{task_id}.spritesheet.jpg", f"{task_id}.thumbnail.jpg"]


@pytest.fixture
def harness(task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path) -> Harness:
    return Harness(task_store, blobs, tmp_path)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _mp4(path: Path, frames: int, width: int = WIDTH, height: int = HEIGHT, fps: int = 4) -> Path:
    job = GenerationJob("", "", width, height, frames, seed=1)
    encode_mp4(frames_for(job), path, fps)
    return path


# --------------------------------------------------------------------------------------------------- success


def test_a_task_is_claimed_generated_encoded_stored_and_finished_with_its_usage(harness: Harness) -> None:
    task = harness.submit(watermark=True)
    fake = FakeBackend()
    worker = harness.worker(fake)

    assert worker.run_once()

    done = harness.get(task.task_id)
    assert (done.status, done.progress, done.result_key) == (TaskStatus.SUCCEEDED, 100, f"{task.task_id}.mp4")
    info = probe(harness.blobs.path(f"{task.task_id}.mp4"))
    assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", WIDTH, HEIGHT, 4.0, 8)
    assert done.usage == {
        "duration": 2,
        "input_video_duration": 0,
        "output_video_duration": 2,
        "video_count": 1,
        "ratio": "16:9",
        "SR": 720,
    }
    # The model generates at its grid and cap (80×48, 4k+1 frames); the runner fits that to the request.
    [job] = fake.jobs
    assert (job.width, job.height, job.num_frames, job.seed, job.prompt) == (80, 48, 9, task.seed, task.request.prompt)
    [context] = fake.contexts
    assert (context.task_id, context.request, context.state) == (task.task_id, task.request, {})
    assert harness.results() == sorted([f"{task.task_id}.mp4", *_sidecars_for(task.task_id)])
    # The reproducibility record: with the task, and the same as the JSON sidecar next to the video.
    record = done.record
    assert json.loads(harness.blobs.path(f"{task.task_id}.record.json").read_text()) == record
    assert (record["model"], record["seed"], record["orig_prompt"]) == (
        task.request.model,
        task.seed,
        task.request.prompt,
    )
    assert record["model_prompt"] == task.request.prompt and record["actual_prompt"] is None  # no extension
    assert record["parameters"]["watermark"] is True and record["parameters"]["duration"] == 2
    assert "seed" not in record["parameters"] and "prompt" not in record["parameters"]
    assert record["generation"] == {"width": 80, "height": 48, "frames": 9, "fps": 4}
    # The digest of the frames the encoder was given: the backend's, fitted and marked (the mp4 itself is lossy).
    r, caps = task.request, FAKE_CAPABILITIES
    plan = plan_generation(
        r.width, r.height, r.duration, caps.fps, caps.spatial_multiple, caps.max_pixels, caps.temporal_factor
    )
    encoded = watermark(fit_frames(frames_for(job), plan))
    assert record["output"] == {
        "width": WIDTH,
        "height": HEIGHT,
        "frames": 8,
        "seconds": 2.0,
        "frames_sha256": hashlib.sha256(encoded.tobytes()).hexdigest(),
    }
    assert record["backend"] == {"backend": "fake", "steps": 3, "device": "fake"}
    assert not any((harness.tmp_path / "scratch-w1").iterdir())  # the task's scratch folder is gone
    assert harness.finished("SUCCEEDED") == 1
    assert not worker.run_once()  # nothing left to claim


def test_the_watermark_is_drawn_when_asked(harness: Harness) -> None:
    plain, marked = harness.submit(watermark=False), harness.submit(watermark=True)
    worker = harness.worker(FakeBackend())
    assert worker.run_once() and worker.run_once()

    def last_frame(task: Task) -> npt.NDArray[np.uint8]:
        with av.open(str(harness.blobs.path(f"{task.task_id}.mp4"))) as container:
            return list(container.decode(video=0))[-1].to_ndarray(format="rgb24")

    difference = np.abs(last_frame(plain).astype(int) - last_frame(marked))
    corner, rest = difference[-HEIGHT // 8 :, -WIDTH // 4 :], difference[: HEIGHT // 2, : WIDTH // 2]
    assert corner.mean() > 5 * max(rest.mean(), 0.1)  # "AI 生成" bottom-right, nothing elsewhere


def test_a_finished_video_is_stored_as_it_is_and_billed_for_its_real_length(harness: Harness) -> None:
    upstream = _mp4(harness.tmp_path / "upstream.mp4", frames=10)  # 2.5 s at 4 fps, for a 2 s request
    task = harness.submit()

    assert harness.worker(FakeBackend(video=upstream)).run_once()

    done = harness.get(task.task_id)
    assert done.status is TaskStatus.SUCCEEDED
    assert harness.blobs.path(f"{task.task_id}.mp4").read_bytes() == upstream.read_bytes()
    assert (done.usage["duration"], done.usage["output_video_duration"]) == (2.5, 2.5)


def test_a_finished_video_that_is_not_what_was_asked_for_fails_the_task(harness: Harness) -> None:
    small = _mp4(harness.tmp_path / "small.mp4", frames=8, width=640, height=360)
    task = harness.submit()

    assert harness.worker(FakeBackend(video=small)).run_once()

    failed = harness.get(task.task_id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "InternalError")
    assert harness.results() == []


# --------------------------------------------------------------------------------------------------- images


def _near(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> bool:
    """The same picture within JPEG's loss: small mean error (the fake's gradients have sharp wrap-around edges)."""
    return bool(a.shape == b.shape and np.abs(a.astype(int) - b).mean() < 8)


def _check_images(harness: Harness, task: Task, frames: int) -> None:
    thumbnail = harness.image(task.task_id, Variant.THUMBNAIL)
    assert thumbnail.shape == (HEIGHT, WIDTH, 3)  # the video's size: 1280 is the cap, not over it
    assert _near(thumbnail, harness.frame(task.task_id, frames // 2))  # the middle frame, as the video shows it
    sheet = harness.image(task.task_id, Variant.SPRITESHEET)
    tiles = min(frames, 10)
    assert sheet.shape == ((tiles + 4) // 5 * 144, 5 * SPRITE_TILE_WIDTH, 3)  # 256 × 144 tiles of the 16:9 video


def test_a_generated_video_gets_a_thumbnail_and_a_spritesheet_of_its_final_frames(harness: Harness) -> None:
    plain, marked = harness.submit(watermark=False), harness.submit(watermark=True)
    worker = harness.worker(FakeBackend())

    assert worker.run_once() and worker.run_once()

    for task in (plain, marked):
        assert harness.get(task.task_id).status is TaskStatus.SUCCEEDED
        _check_images(harness, task, frames=8)
    # Of the final frames: the marked video's thumbnail has the watermark (bottom-right), the plain one's not.
    thumbnails = [harness.image(task.task_id, Variant.THUMBNAIL).astype(int) for task in (plain, marked)]
    difference = np.abs(thumbnails[0] - thumbnails[1])
    corner, rest = difference[-HEIGHT // 8 :, -WIDTH // 4 :], difference[: HEIGHT // 2, : WIDTH // 2]
    assert corner.mean() > 5 * max(rest.mean(), 0.1)
    assert harness.metrics["w1"].registry.get_sample_value(
        "videosynth_task_phase_seconds_count", {"phase": "images", "model": "wan2.7-t2v"}
    )


def test_a_finished_video_gets_its_images_decoded_from_its_mp4(harness: Harness) -> None:
    upstream = _mp4(harness.tmp_path / "upstream.mp4", frames=12)
    task = harness.submit()

    assert harness.worker(FakeBackend(video=upstream)).run_once()

    assert harness.get(task.task_id).status is TaskStatus.SUCCEEDED
    _check_images(harness, task, frames=12)


class _NoImages:
    """A blob store that stores videos but refuses every image."""

    def __init__(self, inner: LocalBlobStore) -> None:
        self.inner = inner

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        if key.endswith(".jpg"):
            raise OSError("image upload refused")
        self.inner.put_file(key, source, content_type)

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        return self.inner.url(key, base_url, ttl_s)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)


@pytest.mark.parametrize("failure", ["making", "storing"])
def test_a_failure_to_make_the_images_still_succeeds_with_the_video(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    task = harness.submit()
    blobs: BlobStore = harness.blobs
    if failure == "making":

        def broken(_frames: object) -> object:
            raise RuntimeError("Pillow broke")

        monkeypatch.setattr("videosynth.worker.runner.images", broken)
    else:
        blobs = _NoImages(harness.blobs)

    with caplog.at_level(logging.ERROR, logger="videosynth.worker.runner"):
        assert harness.worker(FakeBackend(), blobs=blobs).run_once()

    done = harness.get(task.task_id)
    assert (done.status, done.result_key) == (TaskStatus.SUCCEEDED, f"{task.task_id}.mp4")
    assert harness.results() == [f"{task.task_id}.mp4", f"{task.task_id}.record.json"]
    assert probe(harness.blobs.path(f"{task.task_id}.mp4")).frames == 8
    assert harness.finished("SUCCEEDED") == 1
    failures = [r for r in caplog.records if r.message.startswith("task images failed")]
    assert [getattr(r, "task_id", None) for r in failures] == [task.task_id]


# --------------------------------------------------------------------------------------------------- failure


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (InvalidParameter("Model demo cannot generate this: num_frames too long."), "InvalidParameter", "num_frames"),
        (RuntimeError("CUDA out of memory"), "InternalError", "Video generation failed (task_id"),
    ],
)
def test_a_failing_backend_fails_the_task_with_its_code(
    harness: Harness, error: Exception, code: str, message: str
) -> None:
    task = harness.submit()
    worker = harness.worker(FakeBackend(error=error))

    assert worker.run_once()

    failed = harness.get(task.task_id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, code)
    assert failed.error_message is not None and message in failed.error_message
    assert "CUDA" not in failed.error_message  # internals stay in the worker's log
    assert harness.results() == []
    assert harness.finished("FAILED") == 1


def test_a_backend_that_stops_gives_the_task_back_for_another_worker(harness: Harness) -> None:
    task = harness.submit()
    worker = harness.worker(FakeBackend(abort_at=2))

    assert worker.run_once()

    back = harness.get(task.task_id)
    assert (back.status, back.attempts, back.progress) == (TaskStatus.PENDING, 0, 0)
    assert harness.results() == []
    assert harness.finished("RELEASED") == 1


# --------------------------------------------------------------------------------------- state and leases


class _Crash(BaseException):
    """The worker process dying mid-task (as SIGKILL would): nothing in the worker handles it."""


def test_state_saved_by_a_backend_is_there_for_the_next_claimer_after_a_crash(harness: Harness) -> None:
    task = harness.submit()

    def save_then_die(context: RunContext) -> None:
        context.save_state({"upstream_task_id": "u-42"})
        raise _Crash()

    with pytest.raises(_Crash):
        harness.worker(FakeBackend(at_step={2: save_then_die}), "w1").run_once()
    assert harness.get(task.task_id).status is TaskStatus.RUNNING  # until its lease runs out
    assert harness.tasks.requeue_expired(_now_ms() + round(LEASE_S * 1000) + 1, max_attempts=3) == 1

    resumed = FakeBackend()
    assert harness.worker(resumed, "w2").run_once()

    assert [context.state for context in resumed.contexts] == [{"upstream_task_id": "u-42"}]
    done = harness.get(task.task_id)
    assert (done.status, done.attempts, done.backend_state) == (TaskStatus.SUCCEEDED, 2, {"upstream_task_id": "u-42"})


def test_a_worker_whose_lease_was_taken_cannot_save_state_and_gives_nothing_back(harness: Harness) -> None:
    task = harness.submit()

    def steal_then_save(context: RunContext) -> None:
        harness.steal(task.task_id)
        context.save_state({"upstream_task_id": "late"})  # refused: raises GenerationAborted

    fake = FakeBackend(steps=5, at_step={2: steal_then_save})
    worker = harness.worker(fake, "w1")

    assert worker.run_once()

    assert fake.steps_done == 1  # stopped at the refused save
    taken = harness.get(task.task_id)
    assert (taken.status, taken.backend_state, taken.result_key) == (TaskStatus.RUNNING, {}, None)
    assert harness.tasks.heartbeat(task.task_id, "w2", _now_ms(), LEASE_S)  # still w2's: w1 released nothing
    assert harness.results() == []
    assert harness.finished("LOST") == 1


def test_a_lease_lost_mid_generation_stops_it_at_the_next_step(harness: Harness) -> None:
    task = harness.submit()
    # 200 steps of 25 ms: 5 s if nothing stopped it; the heartbeat (every 50 ms) finds the lease gone long before.
    fake = FakeBackend(steps=200, step_s=0.025, at_step={1: lambda _context: harness.steal(task.task_id)})
    worker = harness.worker(fake, "w1")

    assert worker.run_once()

    assert fake.steps_done < 100
    taken = harness.get(task.task_id)
    assert (taken.status, taken.result_key) == (TaskStatus.RUNNING, None)
    assert harness.results() == []
    assert harness.finished("LOST") == 1


# --------------------------------------------------------------------------------------------------- relay


class _NoCallsExtender:
    """An extender a relay's worker must never call: the upstream extends the prompt itself."""

    def extend(self, prompt: str) -> ExtensionOutcome:
        raise AssertionError(f"extended {prompt!r} locally")


def test_a_backend_that_forwards_the_request_gets_no_local_extension_and_no_audio_fetch(harness: Harness) -> None:
    # A URL that cannot be fetched: the worker would fail the task if it downloaded it itself.
    task = harness.submit(prompt_extend=True, audio_url="http://127.0.0.1:9/a.mp3", prompt="a fox")
    fake = FakeBackend(
        video=_mp4(harness.tmp_path / "up.mp4", 8), capabilities=replace(FAKE_CAPABILITIES, forwards_request=True)
    )
    worker = harness.worker(fake)
    worker._extender = _NoCallsExtender()
    assert worker.run_once()
    done = harness.get(task.task_id)
    assert done.status == TaskStatus.SUCCEEDED, (done.error_code, done.error_message)
    assert fake.jobs[0].prompt == "a fox" and fake.contexts[0].request.audio_url == "http://127.0.0.1:9/a.mp3"


def test_an_upstream_error_echoing_the_relay_key_does_not_leak_into_the_task(harness: Harness) -> None:
    key = "sk-relay-key-never-shown"

    def upstream(request: httpx.Request) -> httpx.Response:
        body = {"request_id": "r", "code": "InvalidApiKey", "message": f"Invalid API-key provided: {key}"}
        return httpx.Response(401, json=body)

    entry = RelayEntry(name="cloud", base_url="http://up.test", api_key_env="K", upstream_model="wan2.7-t2v")
    relay = RelayBackend(entry, key, transport=httpx.MockTransport(upstream), sleep=lambda s: None)
    task = harness.submit()
    worker = harness.worker(relay)
    assert worker.run_once()
    failed = harness.get(task.task_id)
    assert (failed.status, failed.error_code) == (TaskStatus.FAILED, "InvalidApiKey")
    assert failed.error_message == "Invalid API-key provided: [redacted]"
    assert failed.backend_state == {}  # refused at submit: no upstream task to resume
