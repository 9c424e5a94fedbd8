"""Results in a local folder, served by the app's own /files route with HMAC-signed links."""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from videosynth.storage import signing

# Keys are our own task ids plus an extension; anything else is refused so a key can never escape the folder.
_SAFE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")


class LocalBlobStore:
    def __init__(self, root: Path, secret: bytes) -> None:
        self._root = root
        self._secret = secret
        root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.fullmatch(key) or ".." in key:
            raise ValueError("invalid blob key")
        return self._root / key

    def put_file(self, key: str, source: Path, content_type: str) -> None:
        target = self.path(key)
        staging = target.with_name(f".{key}.partial")
        shutil.copyfile(source, staging)
        with staging.open("rb") as handle:
            os.fsync(handle.fileno())  # the task is marked SUCCEEDED only after the bytes are durable
        staging.replace(target)

    def url(self, key: str, base_url: str, ttl_s: int) -> str:
        expires = int(time.time()) + ttl_s
        sig = signing.signature(self._secret, key, expires)
        return f"{base_url.rstrip('/')}/files/{quote(key)}?Expires={expires}&Signature={sig}"

    def verify(self, key: str, expires: int, given: str) -> bool:
        return signing.verify(self._secret, key, expires, given, time.time())

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()
