"""create_app: the FastAPI application; what it serves with is opened in its lifespan (no globals, no import-time
state, nothing opened by building it)."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.telemetry import TelemetryConfig

from videosynth import __version__, compose
from videosynth.api import apiyi, dashscope, events, files, metrics, openai_videos, ops, playground, uploads
from videosynth.api.context import RequestContextMiddleware
from videosynth.api.dashscope_routes import render_dashscope_error
from videosynth.api.errors import install_error_handlers
from videosynth.api.fast_route import build_routes
from videosynth.api.files import SignedFiles
from videosynth.api.metrics import QueueFigures, ReadQueueFigures
from videosynth.api.ops import ReadinessCheck
from videosynth.domain.catalog import ModelSpec
from videosynth.registry import registry_for_settings, served_models
from videosynth.safety.check import PromptSafety, prompt_safety
from videosynth.safety.metrics import SafetyMetrics
from videosynth.service import TaskService
from videosynth.settings import Settings

NO_OPENTELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


@dataclass(frozen=True)
class ApiParts:
    """What the app serves with: opened when it starts serving, closed when it stops."""

    service: TaskService
    readiness: ReadinessCheck
    queue_figures: ReadQueueFigures  # the task table's figures, for /metrics
    signed_files: SignedFiles | None  # the local result folder /files serves (None: results are elsewhere)
    uploads: uploads.Uploads | None = None  # where the dashscope SDK's local files go (api/uploads.py)


OpenParts = Callable[[], AbstractAsyncContextManager[ApiParts]]


def _lifespan(open_parts: OpenParts) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_parts() as parts:
            app.state.parts = parts
            app.state.service = parts.service  # the one the routes read, on every request
            app.state.readiness = parts.readiness
            app.state.signed_files = parts.signed_files
            app.state.uploads = parts.uploads
            yield

    return lifespan


def _queue_figures(app: FastAPI) -> ReadQueueFigures:
    """The serving parts' figures, read at scrape time (before start-up there are none: the scrape says so)."""

    def read(now_ms: int) -> QueueFigures:
        parts: ApiParts = app.state.parts
        return parts.queue_figures(now_ms)

    return read


def create_app(settings: Settings, open_parts: OpenParts, serve_files: bool) -> FastAPI:
    """The app; ``open_parts`` opens what it serves with, for as long as it serves (FastAPI's lifespan), and
    /files is served when ``serve_files`` (results in the local folder)."""
    app = FastAPI(
        title="videosynth",
        version=__version__,
        docs_url="/docs",
        redoc_url=None,
        lifespan=_lifespan(open_parts),
        # The service's metrics are Prometheus (/metrics). FastAPI's OpenTelemetry hooks looked up the global
        # providers on every request, to find none configured.
        telemetry=NO_OPENTELEMETRY,
    )
    app.state.time_zone = ZoneInfo(settings.time_zone)
    install_error_handlers(app, default_renderer=render_dashscope_error)
    app.add_middleware(RequestContextMiddleware)
    # Routes are matched in the order they are registered: the hot paths (FastRoutes) go first.
    apiyi.register(app)
    dashscope.register(app)
    events.register(app, event_streams(settings))
    openai_videos.register(app)
    ops.register(app)
    uploads.register(app)
    if serve_files:
        files.register(app)
    metrics.register(app, _queue_figures(app))
    playground.register(app)  # the page and its read-only extensions, after every API route
    build_routes(app)
    return app


def event_streams(settings: Settings) -> events.EventStreams:
    timings = events.StreamTimings(heartbeat_s=settings.events_heartbeat_s, poll_s=settings.events_poll_s)
    return events.EventStreams(settings.events_max_streams_per_key, timings)


def build_app(settings: Settings) -> FastAPI:
    """The app over the stores and storage ``settings`` name, opened when it starts serving. The models' rules
    are read now (a bad registry fails here, not at the first request): the API refuses at create what the entry
    serving a model cannot make, so it reads the workers' registry."""
    models = served_models(registry_for_settings(settings))
    safety = prompt_safety(settings)  # None unless configured; a bad blocklist file fails here
    opened = functools.partial(open_parts, settings, models, safety)
    app = create_app(settings, opened, compose.results_are_local(settings))
    if safety is not None:
        safety.count_into(SafetyMetrics(app.state.metrics.registry))
    return app


@asynccontextmanager
async def open_parts(
    settings: Settings, models: Mapping[str, ModelSpec], safety: PromptSafety | None = None
) -> AsyncIterator[ApiParts]:
    """The stores and storage ``settings`` name, and the service over them, until the app stops serving."""
    async with compose.api_stores(settings) as stores:
        blobs = compose.blob_store(settings)
        yield ApiParts(
            service=TaskService(
                stores.tasks,
                blobs,
                settings,
                stores.reader,
                stores.writer,
                models,
                cancels=compose.cancel_forwarder(settings),
                safety=safety,
            ),
            readiness=compose.readiness_check(settings, stores, blobs),
            queue_figures=stores.queue_figures,
            signed_files=compose.signed_files(blobs),
            uploads=uploads.Uploads.from_settings(blobs, stores.tasks, settings),
        )
