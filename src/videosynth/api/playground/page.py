"""The playground page and its assets, shipped as package data (plain HTML, CSS and JS: nothing fetched from
elsewhere, so it works offline). The page holds no secret: the key stays in the browser's session storage."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
# The page names its assets under this path; no-cache so an upgraded server's page is picked up on reload.
ASSETS_PATH = "/playground/assets"
NO_CACHE = {"Cache-Control": "no-cache"}

router = APIRouter(include_in_schema=False)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/playground", status_code=307)


@router.get("/playground")
def playground() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html", headers=NO_CACHE)


def register(app: FastAPI) -> None:
    app.include_router(router)
    app.mount(ASSETS_PATH, StaticFiles(directory=STATIC), name="playground-assets")
