"""The worker on an image-to-video task: the image is fetched and decoded before the backend runs, reaches the job
as decoded, and decides the video's size; a bad image or a text-only backend fails the task with no generation."""

from __future__ import annotations

import base64
import io
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tests.support.fake_backend import FAKE_CAPABILITIES, FakeBackend
from tests.support.images import picture
from tests.support.tasks import make_task

from videosynth.domain.task import Task, TaskStatus
from videosynth.media.probe import probe
from videosynth.prompting.extender import NoExtension
from videosynth.storage.local import LocalBlobStore
from videosynth.store.queue import SqlTaskStore
from videosynth.worker.runner import Worker, WorkerConfig

IMAGE_BACKEND = replace(FAKE_CAPABILITIES, takes_images=True)
CAT = picture(200, 100, seed=4)  # 2:1


@pytest.fixture
def backend() -> str:
    return "sqlite"  # the worker's logic is store-agnostic (test_worker.py says why)


def _png_uri(image: Image.Image) -> str:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _run(tasks: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path, fake: FakeBackend, url: str) -> Task:
    task = make_task(model="wan2.6-i2v")
    request = replace(task.request, duration=2, prompt_extend=False, first_frame_url=url)
    created = tasks.create(replace(task, request=request))
    config = WorkerConfig("w1", 30.0, heartbeat_s=0.05, max_attempts=3, poll_interval_s=0.01, scratch_dir=tmp_path)
    assert Worker(tasks, blobs, fake, NoExtension(), config).run_once()
    done = tasks.get(created.task_id)
    assert done is not None
    return done


def test_the_image_reaches_the_job_and_sizes_the_video(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    fake = FakeBackend(capabilities=IMAGE_BACKEND)
    done = _run(task_store, blobs, tmp_path, fake, _png_uri(CAT))
    assert done.status is TaskStatus.SUCCEEDED, done.error_message
    (job,) = fake.jobs
    assert job.image is not None and job.last_image is None
    np.testing.assert_array_equal(job.image, np.asarray(CAT))
    assert done.usage is not None and done.usage["size"] == "1344*672"  # 2:1 at 720P, 16-pixel grid
    info = probe(blobs.path(f"{done.task_id}.mp4"))
    assert (info.width, info.height) == (1344, 672)
    assert job.width / job.height == pytest.approx(2.0, rel=0.3)  # generated at the capped grid, same aspect


def test_a_text_to_video_backend_refuses_before_fetching(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    fake = FakeBackend()  # takes_images False, as the t2v demo model
    done = _run(task_store, blobs, tmp_path, fake, "http://127.0.0.1:9/never-fetched.png")
    assert done.status is TaskStatus.FAILED and done.error_code == "InvalidParameter"
    assert "text-to-video checkpoint" in (done.error_message or "")
    assert fake.jobs == []


def test_a_bad_image_fails_the_task_before_any_generation(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    fake = FakeBackend(capabilities=IMAGE_BACKEND)
    text = "data:image/png;base64," + base64.b64encode(b"hello, not a picture").decode()
    done = _run(task_store, blobs, tmp_path, fake, text)
    assert done.status is TaskStatus.FAILED and done.error_code == "BadRequest.UnsupportedFileFormat"
    assert fake.jobs == []


def test_a_relay_refuses_rather_than_drop_the_image(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    fake = FakeBackend(capabilities=replace(FAKE_CAPABILITIES, forwards_request=True))
    done = _run(task_store, blobs, tmp_path, fake, _png_uri(CAT))
    assert done.status is TaskStatus.FAILED and done.error_code == "InvalidParameter"
    assert "does not forward images" in (done.error_message or "")
    assert fake.jobs == []
