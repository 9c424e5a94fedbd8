"""Liveness and readiness."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

router = APIRouter()

ReadinessCheck = Callable[[], dict[str, Any]]


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    check: ReadinessCheck = request.app.state.readiness
    report = check()
    return JSONResponse(report, status_code=200 if report.get("ready") else 503)


def register(app: FastAPI) -> None:
    app.include_router(router)
