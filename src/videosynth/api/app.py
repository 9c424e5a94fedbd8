"""create_app: the FastAPI application over an already-built service (no globals, no import-time state)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from videosynth import __version__, compose
from videosynth.api import apiyi, dashscope, files, metrics, ops
from videosynth.api.context import RequestContextMiddleware
from videosynth.api.dashscope_routes import render_dashscope_error
from videosynth.api.errors import install_error_handlers
from videosynth.api.fast_route import build_routes
from videosynth.api.ops import ReadinessCheck
from videosynth.service import TaskService
from videosynth.settings import Settings
from videosynth.storage.local import LocalBlobStore
from videosynth.storage.protocols import BlobStore
from videosynth.store import migrate

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


class Background(Protocol):
    """A job that runs beside the app while it serves (the SQLite WAL checkpointer)."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


def _running(background: Sequence[Background]) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for job in background:
            job.start()
        try:
            yield
        finally:
            for job in background:
                job.stop()

    return lifespan


def create_app(
    settings: Settings,
    service: TaskService,
    readiness: ReadinessCheck,
    local_blobs: LocalBlobStore | None = None,
    background: Sequence[Background] = (),
) -> FastAPI:
    app = FastAPI(
        title="videosynth",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        lifespan=_running(background),
        # The service's metrics are Prometheus (/metrics). FastAPI's OpenTelemetry hooks looked up the global
        # providers on every request, ~30 us of a ~450 us create, to find none configured.
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.service = service
    app.state.readiness = readiness
    app.state.time_zone = ZoneInfo(settings.time_zone)
    app.state.local_blobs = local_blobs
    install_error_handlers(app, default_renderer=render_dashscope_error)
    app.add_middleware(RequestContextMiddleware)
    # Routes are matched in the order they are registered: the hot paths (FastRoutes) go first.
    apiyi.register(app)
    dashscope.register(app)
    ops.register(app)
    if local_blobs is not None:
        files.register(app)
    build_routes(app)
    return app


def build_app(settings: Settings) -> FastAPI:
    opened = compose.open_all(settings)
    tasks = opened.tasks
    blobs = compose.blob_store(settings)
    local = blobs if isinstance(blobs, LocalBlobStore) else None
    service = TaskService(tasks, blobs, settings, opened.reader, opened.writer)

    def readiness() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            migrate.check_current(opened.engine)  # the app's pool: no engine built and dropped per probe
            checks["database"] = {"ok": True, "pending_tasks": tasks.count_pending()}
        except Exception as exc:  # report, never raise: readiness is for load balancers
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["storage"] = {"ok": _storage_ok(blobs, settings)}
        checks["prompt_extension"] = describe_extension(settings)
        return {"ready": all(c["ok"] for c in checks.values() if isinstance(c, dict)), **checks}

    app = create_app(settings, service, readiness, local, opened.background())
    metrics.register(app, opened.engine)
    return app


def _storage_ok(blobs: BlobStore, settings: Settings) -> bool:
    if isinstance(blobs, LocalBlobStore):
        results = settings.resolved_results_dir()
        return results.is_dir() and os.access(results, os.W_OK)
    try:
        blobs.exists("readyz-probe")  # a HEAD on the bucket: proves endpoint, credentials and bucket
    except Exception:
        return False
    return True


def describe_extension(settings: Settings) -> str:
    from videosynth.prompting.factory import describe

    return describe(settings)
