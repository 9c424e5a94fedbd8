"""A checkpoint's content hash: over paths and bytes, cached by file stats, None for a hub id."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from videosynth.backends.checkpoint_hash import checkpoint_sha256, tree_sha256


def _checkpoint(folder: Path) -> Path:
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text('{"_class_name": "WanPipeline"}')
    (folder / "transformer" / "weights.safetensors").write_bytes(bytes(range(256)) * 64)
    return folder


def test_the_hash_covers_paths_and_bytes_and_not_where_the_folder_is(tmp_path: Path) -> None:
    one, two = _checkpoint(tmp_path / "one"), _checkpoint(tmp_path / "two")
    assert tree_sha256(one) == tree_sha256(two)
    expected = hashlib.sha256()
    for name, data in (
        ("model_index.json", (one / "model_index.json").read_bytes()),
        ("transformer/weights.safetensors", (one / "transformer" / "weights.safetensors").read_bytes()),
    ):
        expected.update(name.encode() + b"\0" + data + b"\0")
    assert tree_sha256(one) == expected.hexdigest()
    (two / "transformer" / "weights.safetensors").rename(two / "transformer" / "other.safetensors")
    assert tree_sha256(two) != tree_sha256(one)  # same bytes under another name: another checkpoint


def test_the_hash_is_cached_until_a_file_changes(tmp_path: Path) -> None:
    folder, cache = _checkpoint(tmp_path / "ckpt"), tmp_path / "cache"
    first = checkpoint_sha256(str(folder), cache)
    assert first == tree_sha256(folder) and len(list(cache.iterdir())) == 1
    weights = folder / "transformer" / "weights.safetensors"
    weights.write_bytes(b"changed")
    os.utime(weights, ns=(1, 1))  # a new size and time: the stats key changes with the file
    assert checkpoint_sha256(str(folder), cache) == tree_sha256(folder) != first


def test_a_hub_id_has_no_folder_to_hash(tmp_path: Path) -> None:
    assert checkpoint_sha256("Wan-AI/Wan2.1-T2V-1.3B-Diffusers", tmp_path) is None
