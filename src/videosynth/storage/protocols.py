"""What workers and the API need from result storage."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Store ``source`` under ``key`` (the source file may be moved or deleted afterwards)."""
        ...

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        """A link that downloads the blob without an Authorization header, valid for ttl_s seconds."""
        ...

    def delete(self, key: str) -> None: ...

    def exists(self, key: str) -> bool: ...
