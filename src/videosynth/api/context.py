"""Per-request context: a request_id on every request (echoed in bodies and the X-Request-Id header), its
access-log line and its request metrics."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Protocol

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("videosynth.access")


def request_id_of(request: Request) -> str:
    rid = request.scope.get("state", {}).get("request_id")
    return rid if isinstance(rid, str) else str(uuid.uuid4())


class RequestObserver(Protocol):
    """What the app's request metrics (api/metrics.py, in ``app.state.metrics``) take from every request."""

    def request_started(self) -> None: ...

    def request_finished(self, scope: Scope, code: int, seconds: float) -> None: ...


class RequestContextMiddleware:
    """Every HTTP request's one middleware: its request_id, its access-log line and its metrics (when
    metrics.register gave the app some). Pure ASGI (not BaseHTTPMiddleware), and one layer rather than two:
    each layer's wrapper around ``send`` cost a status poll a few per cent."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before starting a response
        observer: RequestObserver | None = getattr(scope["app"].state, "metrics", None) if "app" in scope else None
        if observer is not None:
            observer.request_started()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self._app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            if observer is not None:
                observer.request_finished(scope, status, elapsed)
            # One structured access line per request; the query string is left out (signed links carry secrets).
            log.info(
                "request",
                extra={
                    "request_id": request_id,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                },
            )
