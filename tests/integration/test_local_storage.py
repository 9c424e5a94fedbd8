"""LocalBlobStore's objects (put, open, delete, exists) and the per-variant blob keys every store is given."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from videosynth.storage.keys import Variant, blob_key, content_type, stored_keys
from videosynth.storage.local import LocalBlobStore


@pytest.fixture
def store(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "results", b"secret")


def test_open_reads_back_what_was_put_and_delete_removes_it(store: LocalBlobStore, tmp_path: Path) -> None:
    source = tmp_path / "upload.mp4"
    source.write_bytes(b"\x00\x00\x00\x20ftypisom" + os.urandom(70_000))
    key = blob_key(str(uuid.uuid4()))
    store.put_file(key, source, content_type(Variant.VIDEO))

    with store.open(key) as blob:
        assert blob.read(12) == source.read_bytes()[:12]
        assert blob.read() == source.read_bytes()[12:]

    store.delete(key)
    assert not store.exists(key)
    with pytest.raises(FileNotFoundError):
        store.open(key)
    store.delete(key)  # already gone: not an error


def test_every_variant_key_is_a_valid_key_of_its_own(store: LocalBlobStore, tmp_path: Path) -> None:
    task_id = str(uuid.uuid4())
    keys = {variant: blob_key(task_id, variant) for variant in Variant}
    assert keys == {
        Variant.VIDEO: f"{task_id}.mp4",
        Variant.THUMBNAIL: f"{task_id}.thumbnail.jpg",
        Variant.SPRITESHEET: f"{task_id}.spritesheet.jpg",
    }
    for variant, key in keys.items():
        source = tmp_path / key
        source.write_bytes(variant.value.encode())
        store.put_file(key, source, content_type(variant))
    assert all(store.open(key).read() == variant.value.encode() for variant, key in keys.items())


def test_a_task_has_blobs_under_its_recorded_key_and_its_variants() -> None:
    assert stored_keys("t1", None) == []  # no result: nothing was stored
    assert stored_keys("t1", "t1.mp4") == ["t1.mp4", "t1.thumbnail.jpg", "t1.spritesheet.jpg", "t1.record.json"]
    # A result recorded under an older scheme is still the one that goes first (and is deleted).
    assert stored_keys("t1", "results/t1.mp4") == [
        "results/t1.mp4",
        "t1.mp4",
        "t1.thumbnail.jpg",
        "t1.spritesheet.jpg",
        "t1.record.json",
    ]


def test_each_variant_has_its_content_type() -> None:
    assert {variant: content_type(variant) for variant in Variant} == {
        Variant.VIDEO: "video/mp4",
        Variant.THUMBNAIL: "image/jpeg",
        Variant.SPRITESHEET: "image/jpeg",
    }
