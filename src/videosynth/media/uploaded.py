"""Reading a client's upload (an ``oss://`` input the dashscope SDK uploaded; ``storage.uploads``) to a local file."""

from __future__ import annotations

import time
from pathlib import Path

from videosynth.domain.errors import InputDownloadFailed
from videosynth.media.fetch import InputField, too_large
from videosynth.storage.protocols import BlobStore
from videosynth.storage.uploads import OSS_SCHEME, parse_upload_name

_COPY_CHUNK = 1 << 20


def is_upload(url: str) -> bool:
    return url[: len(OSS_SCHEME)].lower() == OSS_SCHEME


def copy_upload(url: str, dest: Path, max_bytes: int, field: InputField, blobs: BlobStore) -> Path:
    """The upload ``url`` names, copied to ``dest`` within ``max_bytes``; InputDownloadFailed when it is gone."""
    name = parse_upload_name(url)
    # The API checked owner and expiry at create; an upload may still have expired or gone since.
    if name is None or time.time() > name.expires_s:
        raise InputDownloadFailed(f"{field.name} names no current upload (uploads expire).")
    try:
        with blobs.open(name.blob_key) as source, open(dest, "wb") as out:
            copied = 0
            while chunk := source.read(_COPY_CHUNK):
                copied += len(chunk)
                if copied > max_bytes:
                    raise InputDownloadFailed(too_large(field, f"in {field.name}", max_bytes))
                out.write(chunk)
    except FileNotFoundError as exc:
        raise InputDownloadFailed(f"{field.name} names no current upload (uploads expire).") from exc
    return dest
