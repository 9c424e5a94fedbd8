"""GET /api/v1/tasks/{task_id}/events: a Server-Sent Events stream of a task's status and progress (an extension).

Each event's data is the status poll's body (same renderer, same request_id) plus a ``progress`` object
(domain/progress.py). One event at once, then one per change of status, phase, percent or step; ``: ping``
comments keep proxies from closing a quiet stream; the stream ends after a final status (UNKNOWN included: the
task is gone or another key's). Between reads it holds no database connection: it re-reads the task through the
poll's read path every ``events_poll_s``, which costs what one poll costs.

Each API process bounds its open streams per key (429 Throttling over it); ``EventStreams.close`` (called when the
server begins a graceful shutdown, api/serving.py) ends every open stream at its next tick, so the shutdown never
waits on them.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from videosynth.api.dashscope import PREFIXES, poll_body
from videosynth.api.dashscope_routes import DashScopeRoute
from videosynth.api.deps import AuthorizationHeader, ServiceDep
from videosynth.domain.errors import Throttling, VideosynthError
from videosynth.domain.progress import progress_view
from videosynth.domain.task import Task, TaskStatus

# A stream is ended after this long whatever the task does; SSE clients reconnect (and get the current state).
MAX_STREAM_S = 6 * 3600.0
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
PING = b": ping\n\n"

_FINAL = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED, TaskStatus.UNKNOWN})
_dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode  # as JSONResponse

router = APIRouter(route_class=DashScopeRoute)


@dataclass(frozen=True)
class StreamTimings:
    heartbeat_s: float
    poll_s: float


class EventStreams:
    """This process's open event streams: a bound per key, and the signal that the server is shutting down."""

    def __init__(self, max_per_key: int, timings: StreamTimings) -> None:
        self.timings = timings
        self._max_per_key = max_per_key
        self._open: dict[str, int] = {}
        self.closing = False

    def open(self, key_id: str) -> Callable[[], None]:
        """Take one of the key's stream slots (Throttling when none is left); returns what gives it back."""
        count = self._open.get(key_id, 0)
        if count >= self._max_per_key:
            raise Throttling(f"Too many open event streams for this API key (at most {self._max_per_key}).")
        self._open[key_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                left = self._open.pop(key_id) - 1
                if left:
                    self._open[key_id] = left

        return release

    def close(self) -> None:
        self.closing = True


class _SlotResponse(StreamingResponse):
    """Gives the stream's slot back however the response ends (finished, client gone, cancelled): a generator's
    own ``finally`` never runs when it was never started."""

    def __init__(self, content: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=HEADERS)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def streams_of(request: Request) -> EventStreams:
    streams: EventStreams = request.app.state.event_streams
    return streams


# The OpenAPI document says what the stream is (schemathesis checks every answer's type against it).
EVENT_STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `event: task` with the poll's body plus `progress`, until final.",
        "content": {
            "text/event-stream": {
                "schema": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "event": {"type": "string"}, "data": {"type": "string"}},
                    "required": ["data"],
                }
            }
        },
    }
}


@router.get("/tasks/{task_id}/events", response_class=StreamingResponse, responses=EVENT_STREAM_RESPONSE)
async def task_events(
    task_id: str, request: Request, service: ServiceDep, authorization: AuthorizationHeader = None
) -> StreamingResponse:
    streams = streams_of(request)
    key = await service.authenticate(authorization)
    release = streams.open(key.key_id)
    try:
        first = await service.poll(authorization, task_id)
    except BaseException:
        release()
        raise

    def render(task: Task | None) -> bytes:
        return _dumps(poll_body(request, service, task_id, task)).encode()  # progress included

    async def read() -> Task | None:
        return await service.poll(authorization, task_id)

    return _SlotResponse(_events(first, read, render, request.is_disconnected, streams), release)


def _shown(task: Task | None) -> tuple[Any, ...]:
    """What a change of makes a new event."""
    view = progress_view(task)
    return (TaskStatus.UNKNOWN if task is None else task.status, view["phase"], view["percent"], view["step"])


async def _events(
    first: Task | None,
    read: Callable[[], Awaitable[Task | None]],
    render: Callable[[Task | None], bytes],
    is_disconnected: Callable[[], Awaitable[bool]],
    streams: EventStreams,
) -> AsyncIterator[bytes]:
    timings = streams.timings
    task, shown, event_id = first, None, 0
    next_ping = time.monotonic() + timings.heartbeat_s
    for _tick in range(math.ceil(MAX_STREAM_S / timings.poll_s) + 1):
        if _shown(task) != shown:
            shown, event_id = _shown(task), event_id + 1
            yield b"id: %d\nevent: task\ndata: %s\n\n" % (event_id, render(task))
            if shown[0] in _FINAL:
                return
        if time.monotonic() >= next_ping:
            yield PING
            next_ping = time.monotonic() + timings.heartbeat_s
        await asyncio.sleep(max(min(timings.poll_s, next_ping - time.monotonic()), 0))
        if streams.closing or await is_disconnected():
            return
        try:
            task = await read()
        except VideosynthError:  # the key was revoked meanwhile, or the store is down: end; the client retries
            return


def register(app: FastAPI, streams: EventStreams) -> None:
    app.state.event_streams = streams
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)
