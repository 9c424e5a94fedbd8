"""What workers and the API need from result storage."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Protocol


class BlobReader(Protocol):
    """A blob opened for reading: a binary stream, closed by ``with`` or ``close()``."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> BlobReader: ...

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None, /
    ) -> object: ...


class BlobStore(Protocol):
    def put_file(self, key: str, source: Path, content_type: str) -> None:
        """Store ``source`` under ``key`` (the source file may be moved or deleted afterwards)."""
        ...

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        """A link that downloads the blob without an Authorization header, valid for ttl_s seconds."""
        ...

    def open(self, key: str) -> BlobReader:
        """The blob's bytes as a stream; FileNotFoundError when there is none under ``key``."""
        ...

    def delete(self, key: str) -> None:
        """Remove the blob; a key with nothing under it is not an error (sweeps may run twice)."""
        ...

    def exists(self, key: str) -> bool: ...
