"""Signed result downloads: no Authorization header needed; a bad or expired link is a bare 403."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse

from videosynth.api.dashscope_routes import DashScopeRoute
from videosynth.domain.errors import AccessDenied

router = APIRouter(route_class=DashScopeRoute)


class SignedFiles(Protocol):
    """The local result folder and the signatures of its links (storage/local.py)."""

    def path(self, key: str) -> Path:
        """The file of ``key``; ValueError for a key that names no file of the folder."""
        ...

    def verify(self, key: str, expires: int, given: str) -> bool: ...


def _store(request: Request) -> SignedFiles:
    store: SignedFiles = request.app.state.signed_files
    return store


@router.get("/files/{key}", operation_id="download_file")
@router.head("/files/{key}", operation_id="download_file_head")  # one operation id each: OpenAPI needs them unique
def download(
    key: str,
    request: Request,
    expires: Annotated[str, Query(alias="Expires")] = "",
    signature: Annotated[str, Query(alias="Signature")] = "",
) -> FileResponse:
    store = _store(request)
    # One answer for tampered, expired, malformed and missing: the link reveals nothing.
    denied = AccessDenied("The link is invalid or has expired.")
    if not expires.isdigit() or len(expires) > 12:
        raise denied
    try:
        path = store.path(key)
    except ValueError:
        raise denied from None
    if not store.verify(key, int(expires), signature) or not path.is_file():
        raise denied
    return FileResponse(path, media_type="video/mp4", filename=None, headers={"Cache-Control": "private"})


def register(app: FastAPI) -> None:
    app.include_router(router)
