"""The retention sweep on a real SQLite store and the local blob folder."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from tests.integration.test_store_retention import DAY_MS, add_task
from tests.support.tasks import T0

from videosynth.domain.task import Task, TaskStatus
from videosynth.storage.keys import Variant, blob_key, stored_keys
from videosynth.storage.local import LocalBlobStore
from videosynth.store.queue import SqlTaskStore
from videosynth.worker.retention import sweep

RETENTION_S = 86_400.0
NOW = T0 + 2 * DAY_MS
CUTOFF = NOW - DAY_MS  # submitted before this → expired, the same rule the API uses to answer UNKNOWN


@pytest.fixture
def backend() -> str:
    # Overrides conftest's parametrised backend: the sweep's logic is store-agnostic, purge_expired itself is
    # covered on both databases in test_store_retention.
    return "sqlite"


class FailingBlobs:
    """A blob store that is down: every delete fails."""

    def __init__(self, inner: LocalBlobStore) -> None:
        self.inner = inner
        self.deletes = 0

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        self.inner.put_file(key, source, content_type)

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        return self.inner.url(key, base_url, ttl_s)

    def exists(self, key: str) -> bool:
        return self.inner.exists(key)

    def delete(self, key: str) -> None:
        self.deletes += 1
        raise OSError("blob store unavailable")


def succeeded_with_blob(store: SqlTaskStore, blobs: LocalBlobStore, submit_ms: int, tmp_path: Path) -> Task:
    task = add_task(store, TaskStatus.SUCCEEDED, submit_ms)
    assert task.result_key is not None
    source = tmp_path / "video.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypmp42" + task.task_id.encode())
    blobs.put_file(task.result_key, source, "video/mp4")
    return task


def test_sweep_deletes_expired_tasks_and_their_blobs_only(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    expired = succeeded_with_blob(task_store, blobs, CUTOFF - 1, tmp_path)
    expired_failed = add_task(task_store, TaskStatus.FAILED, T0)
    expired_canceled = add_task(task_store, TaskStatus.CANCELED, T0)
    at_cutoff = succeeded_with_blob(task_store, blobs, CUTOFF, tmp_path)
    fresh = succeeded_with_blob(task_store, blobs, NOW - 1000, tmp_path)
    old_pending = add_task(task_store, TaskStatus.PENDING, T0)
    old_running = add_task(task_store, TaskStatus.RUNNING, T0)

    assert sweep(task_store, blobs, NOW, RETENTION_S) == 4

    for gone in (expired, expired_failed, expired_canceled, old_pending):
        assert task_store.get(gone.task_id) is None
    assert expired.result_key is not None
    assert not blobs.exists(expired.result_key)
    for kept in (at_cutoff, fresh):
        assert task_store.get(kept.task_id) is not None
        assert kept.result_key is not None
        assert blobs.exists(kept.result_key)
    assert task_store.get(old_running.task_id) is not None  # a worker holds it: purged once it is final
    assert sweep(task_store, blobs, NOW, RETENTION_S) == 0


def test_sweep_deletes_every_variant_of_a_task(task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path) -> None:
    task = succeeded_with_blob(task_store, blobs, T0, tmp_path)
    images = [blob_key(task.task_id, variant) for variant in (Variant.THUMBNAIL, Variant.SPRITESHEET)]
    assert images == [f"{task.task_id}.thumbnail.jpg", f"{task.task_id}.spritesheet.jpg"]
    image = tmp_path / "image.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0")
    for key in images:
        blobs.put_file(key, image, "image/jpeg")

    assert sweep(task_store, blobs, NOW, RETENTION_S) == 1

    assert not any(blobs.exists(key) for key in images)
    assert not blobs.exists(str(task.result_key))


def test_sweep_goes_through_every_batch(task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path) -> None:
    tasks = [succeeded_with_blob(task_store, blobs, T0 + i, tmp_path) for i in range(7)]

    assert sweep(task_store, blobs, NOW, RETENTION_S, batch=3) == 7

    assert not any(blobs.exists(str(task.result_key)) for task in tasks)
    assert all(task_store.get(task.task_id) is None for task in tasks)


def test_a_blob_that_is_already_gone_is_not_an_error(task_store: SqlTaskStore, blobs: LocalBlobStore) -> None:
    # E.g. a sweep that crashed after its purge but before (or during) the blob deletes, re-run by hand.
    task = add_task(task_store, TaskStatus.SUCCEEDED, T0)

    assert sweep(task_store, blobs, NOW, RETENTION_S) == 1
    assert task_store.get(task.task_id) is None


def test_a_failing_blob_store_stops_the_sweep_and_names_the_orphans(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tasks = [succeeded_with_blob(task_store, blobs, T0 + i, tmp_path) for i in range(5)]
    down = FailingBlobs(blobs)

    with caplog.at_level(logging.WARNING, logger="videosynth.worker.retention"), pytest.raises(OSError):
        sweep(task_store, down, NOW, RETENTION_S, batch=2)

    # One batch purged, one delete tried, then stop: no more records lose their blobs while the store is down.
    assert down.deletes == 1
    assert [task_store.get(task.task_id) is None for task in tasks] == [True, True, False, False, False]
    orphaned = [key for record in caplog.records for key in getattr(record, "orphaned_keys", [])]
    assert orphaned == [key for task in tasks[:2] for key in stored_keys(task.task_id, task.result_key)]
    assert {tasks[0].result_key, tasks[1].result_key} < set(orphaned)

    # Once the store is back, the next sweep finishes the job.
    assert sweep(task_store, blobs, NOW, RETENTION_S, batch=2) == 3
    assert all(task_store.get(task.task_id) is None for task in tasks)
    assert not any(blobs.exists(str(task.result_key)) for task in tasks[2:])


def test_expired_uploads_go_a_retention_period_after_their_expiry(
    task_store: SqlTaskStore, blobs: LocalBlobStore, tmp_path: Path
) -> None:
    from videosynth.worker.retention import sweep_uploads

    source = tmp_path / "picture.png"
    source.write_bytes(b"\x89PNG")
    # Expired a retention period ago (no task that could read it is left), expired just now, not expired yet.
    for name, expires_ms in (("upload-old", CUTOFF - 1), ("upload-recent", NOW - 1), ("upload-live", NOW + 1)):
        assert task_store.record_upload(name, expires_ms)
        blobs.put_file(name, source, "image/png")
    assert sweep_uploads(task_store, blobs, NOW, RETENTION_S, batch=1) == 1
    assert [blobs.exists(n) for n in ("upload-old", "upload-recent", "upload-live")] == [False, True, True]
    assert sweep_uploads(task_store, blobs, NOW + DAY_MS, RETENTION_S) == 1  # a day on: the recent one goes
    assert [blobs.exists(n) for n in ("upload-recent", "upload-live")] == [False, True]
