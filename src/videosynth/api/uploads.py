"""The dashscope SDK's upload of a local file (``img_url="/path/cat.png"``), as upstream's OSS flow works.

1. ``GET /api/v1/uploads?action=getPolicy&model=…`` (Bearer key) answers ``{"request_id", "data": {policy,
   signature, upload_dir, upload_host, expire_in_seconds, max_file_size_mb, …}}``: a policy we sign, naming a
   directory of the calling key's (``storage.uploads``) and the upload host, our ``/api/v1/uploads/oss``.
2. The SDK POSTs a multipart form there, without the key: ``policy``, ``Signature``, ``key`` (=
   ``<upload_dir>/<file name>``), the file, and OSS's other fields (ignored). The signed policy is the only
   authority: a file lands only under a directory we signed, within its size limit and lifetime, once.
3. The SDK sends ``oss://<key>`` with ``X-DashScope-OssResourceResolve: enable``; the create checks the name is
   the caller's and current (``service.check_uploads``), and the worker reads it from blob storage.
"""

from __future__ import annotations

import email.parser
import email.policy
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from videosynth.api.body import media_type, read_bytes
from videosynth.api.context import request_id_of
from videosynth.api.dashscope_routes import DashScopeRoute
from videosynth.api.deps import KeyDep, base_url
from videosynth.domain.errors import AccessDenied, Conflict, InvalidParameter, ServiceUnavailable, TooLarge
from videosynth.settings import Settings
from videosynth.storage.protocols import BlobStore
from videosynth.storage.uploads import (
    Policy,
    encode_policy,
    new_upload_dir,
    parse_upload_name,
    sign_policy,
    verified_policy,
)
from videosynth.store.protocols import TaskStore

PREFIXES = ("/api/v1", "/wan/api/v1")
RECEIVE_PATH = "/uploads/oss"
_FORM_OVERHEAD = 64 * 1024  # the form's other fields and boundaries, beyond the file itself

router = APIRouter(route_class=DashScopeRoute)


@dataclass(frozen=True)
class Uploads:
    """Where uploads go and on what terms (from Settings, built with the app's parts)."""

    blobs: BlobStore
    records: TaskStore  # where each upload's expiry is noted, for the retention sweep
    secret: bytes
    ttl_s: int
    max_bytes: int
    public_base_url: str | None = None  # behind a proxy: the host clients reach (as for result links)

    @classmethod
    def from_settings(cls, blobs: BlobStore, records: TaskStore, settings: Settings) -> Uploads:
        limits = (settings.upload_ttl_s, settings.upload_max_bytes, settings.public_base_url)
        return cls(blobs, records, settings.signing_key(), *limits)


def _uploads(request: Request) -> Uploads:
    uploads: Uploads | None = getattr(request.app.state, "uploads", None)
    if uploads is None:
        raise ServiceUnavailable("Uploads are not available on this server.")
    return uploads


@router.get("/uploads")
async def get_policy(
    request: Request, key: KeyDep, action: Annotated[str, Query()] = "", model: Annotated[str, Query()] = ""
) -> dict[str, Any]:
    if action != "getPolicy":
        raise InvalidParameter(f"action must be 'getPolicy', got {action!r}.")
    uploads = _uploads(request)
    expires = int(time.time()) + uploads.ttl_s
    upload_dir = new_upload_dir(key.key_id, expires)
    policy = encode_policy(Policy(upload_dir, expires, uploads.max_bytes))
    base = (uploads.public_base_url or base_url(request)).rstrip("/")
    host = base + request.url.path.removesuffix("/uploads") + RECEIVE_PATH
    data = {
        "policy": policy,
        "signature": sign_policy(uploads.secret, policy),
        "upload_dir": upload_dir,
        "upload_host": host,
        "expire_in_seconds": uploads.ttl_s,
        "max_file_size_mb": uploads.max_bytes / 2**20,
        "capacity_limit_mb": uploads.max_bytes / 2**20,
        "oss_access_key_id": "videosynth",
        "x_oss_object_acl": "private",
        "x_oss_forbid_overwrite": "true",
    }
    return {"request_id": request_id_of(request), "data": data}


@router.post(RECEIVE_PATH)
async def receive(request: Request) -> Response:
    uploads = _uploads(request)
    if media_type(request) != "multipart/form-data":
        raise InvalidParameter("An upload is a multipart/form-data POST.")
    raw = await read_bytes(request, uploads.max_bytes + _FORM_OVERHEAD)
    fields, file = _form(request.headers.get("content-type", ""), raw)
    policy = verified_policy(uploads.secret, fields.get("policy", ""), fields.get("Signature", ""), time.time())
    if policy is None:
        raise AccessDenied("The upload policy is invalid or has expired; ask for a new one (action=getPolicy).")
    name = parse_upload_name(fields.get("key", ""))
    if name is None or name.upload_dir != policy.upload_dir:
        raise InvalidParameter("The upload key must be <upload_dir>/<file name> of the policy's upload_dir.")
    if file is None:
        raise InvalidParameter("The upload has no 'file' part.")
    if len(file) > policy.max_bytes:
        raise TooLarge(f"The file is larger than the {policy.max_bytes} bytes an upload may be.")
    content_type = fields.get("x-oss-content-type") or "application/octet-stream"
    # Recorded first, so the retention sweep finds every stored file (store/uploads.py).
    if not await run_in_threadpool(uploads.records.record_upload, name.blob_key, name.expires_s * 1000):
        raise Conflict("A file was already uploaded under this key.")
    await run_in_threadpool(_store, uploads.blobs, name.blob_key, file, content_type)
    return Response(status_code=200)


def _store(blobs: BlobStore, blob_key: str, data: bytes, content_type: str) -> None:
    if blobs.exists(blob_key):  # x-oss-forbid-overwrite: an upload's name holds one file for its lifetime
        raise Conflict("A file was already uploaded under this key.")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload"
        path.write_bytes(data)
        blobs.put_file(blob_key, path, content_type)


def _form(content_type: str, raw: bytes) -> tuple[dict[str, str], bytes | None]:
    """The form's text fields and the bytes of its ``file`` part (None when there is none)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvalidParameter("The multipart/form-data body could not be read (is its boundary right?).")
    fields: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) if isinstance(part, EmailMessage) else None
        data = payload if isinstance(payload, bytes) else b""
        if name == "file":
            file = data
        elif isinstance(name, str):
            fields[name] = data.decode("utf-8", errors="replace")
    return fields, file


def register(app: FastAPI) -> None:
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)
