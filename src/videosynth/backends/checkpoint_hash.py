"""A checkpoint folder's content hash, for reproducibility records: computed once, then cached by file stats.

Hashing a 14B checkpoint reads tens of GB, so the digest is cached in the data dir under the folder's file list
with sizes and modification times: a restarted worker pays nothing, and a changed file changes the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

_CHUNK = 8 * 2**20


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _stats_key(folder: Path, files: list[Path]) -> str:
    stats = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return hashlib.sha256(json.dumps([str(folder.resolve()), stats]).encode()).hexdigest()


def tree_sha256(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in path order (the same for a copied folder)."""
    digest = hashlib.sha256()
    for path in _files(folder):
        digest.update(str(path.relative_to(folder)).encode() + b"\0")
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def checkpoint_sha256(checkpoint: str, cache_dir: Path) -> str | None:
    """The folder's tree hash (cached), or None when ``checkpoint`` is a hub id rather than a folder here."""
    folder = Path(checkpoint)
    if not folder.is_dir():
        return None
    key = _stats_key(folder, _files(folder))
    cached = cache_dir / f"{key}.sha256"
    if cached.is_file():
        return cached.read_text().strip()
    value = tree_sha256(folder)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
    tmp.write_text(value)
    tmp.replace(cached)  # atomic: two workers hashing at once agree anyway
    return value
