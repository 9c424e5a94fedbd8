"""The SDK's wait against a tiny real SSE server on loopback (Starlette on uvicorn): the events stream followed
through its phases, a stream that drops mid-way reconnected, a server without the stream (404) or refusing one
(429) polled instead, Retry-After honoured, and never two requests for one task within a second."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from tests.support.net import free_port

from videosynth.client import AsyncClient, Client, Task, TaskFailedError

PHASES = [
    ("PENDING", {"phase": "queued", "percent": 0, "step": None, "steps": None, "eta_s": None}),
    ("RUNNING", {"phase": "extending_prompt", "percent": 2, "step": None, "steps": None, "eta_s": None}),
    ("RUNNING", {"phase": "denoising", "percent": 30, "step": 1, "steps": 3, "eta_s": 2.0}),
    ("RUNNING", {"phase": "denoising", "percent": 60, "step": 2, "steps": 3, "eta_s": 1.0}),
    ("RUNNING", {"phase": "encoding", "percent": 90, "step": 3, "steps": 3, "eta_s": 0.2}),
    ("SUCCEEDED", {"phase": "done", "percent": 100, "step": 3, "steps": 3, "eta_s": 0.0}),
]


def body(task_id: str, status: str, progress: dict[str, Any] | None = None) -> dict[str, Any]:
    output: dict[str, Any] = {"task_id": task_id, "task_status": status}
    if status == "SUCCEEDED":
        output |= {"video_url": "http://127.0.0.1:1/none.mp4", "seed": 7}
    if status == "FAILED":
        output |= {"code": "InternalError", "message": "the worker gave up"}
    answer: dict[str, Any] = {"request_id": "r1", "output": output, "usage": {"duration": 5}}
    return answer | ({"progress": progress} if progress else {})


@dataclass
class Script:
    """How the fake server behaves this test, and what it saw."""

    stream: str = "ok"  # ok | missing (404) | throttled (429) | drop-once (closes after two events, first time)
    final_status: str = "SUCCEEDED"
    poll_failures: list[int] = field(default_factory=list)  # statuses answered to the first polls
    retry_after: str | None = None
    polls_until_done: int = 3
    requests: list[tuple[float, str]] = field(default_factory=list)
    streams_opened: int = 0
    polls: int = 0
    event_type: str = "event: task\n"  # the agreed type; "" sends SSE's default type (message)

    def phases(self) -> list[tuple[str, dict[str, Any]]]:
        last = ("FAILED", {"phase": "done", "percent": 100, "step": None, "steps": None, "eta_s": None})
        return PHASES if self.final_status == "SUCCEEDED" else [*PHASES[:3], last]


def build_app(script: Script) -> Starlette:
    async def events(request: Request) -> Response:
        script.requests.append((time.monotonic(), "events"))
        task_id = request.path_params["task_id"]
        if script.stream == "missing":
            return JSONResponse({"request_id": "r", "code": "NotFound", "message": "no"}, status_code=404)
        if script.stream == "throttled":
            return JSONResponse({"request_id": "r", "code": "Throttling", "message": "streams"}, status_code=429)
        script.streams_opened += 1
        phases = script.phases()
        if script.stream == "drop-once" and script.streams_opened == 1:
            phases = phases[:2]

        async def lines() -> AsyncIterator[bytes]:
            for number, (status, progress) in enumerate(phases, 1):
                yield b": ping\n\n"
                data = json.dumps(body(task_id, status, progress))
                yield f"id: {number}\n{script.event_type}data: {data}\n\n".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(lines(), media_type="text/event-stream")

    async def poll(request: Request) -> Response:
        script.requests.append((time.monotonic(), "poll"))
        script.polls += 1
        if script.poll_failures:
            headers = {"Retry-After": script.retry_after} if script.retry_after else None
            return JSONResponse({"code": "Throttling", "message": "slow down"}, script.poll_failures.pop(0), headers)
        status = "RUNNING" if script.polls < script.polls_until_done else script.final_status
        return JSONResponse(body(request.path_params["task_id"], status))

    return Starlette(routes=[Route("/api/v1/tasks/{task_id}/events", events), Route("/api/v1/tasks/{task_id}", poll)])


@pytest.fixture
def fake() -> Iterator[tuple[str, Script]]:
    script = Script()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(build_app(script), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="fake-sse", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", script
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def spaced_a_second_apart(script: Script) -> bool:
    times = [at for at, _ in script.requests]
    return all(later - earlier >= 0.9 for earlier, later in itertools.pairwise(times))


def test_wait_follows_the_stream_through_its_phases(fake: tuple[str, Script]) -> None:
    url, script = fake
    seen: list[Task] = []
    with Client(base_url=url, api_key="k") as client:
        task = client.wait("t1", timeout=30, on_progress=seen.append)
    assert task.status == "SUCCEEDED" and task.seed == 7
    assert [t.progress.phase for t in seen] == [p["phase"] for _, p in PHASES]
    assert [t.progress.step for t in seen if t.progress.phase == "denoising"] == [1, 2]
    assert seen[2].progress.eta_s == 2.0 and script.polls == 0 and script.streams_opened == 1


def test_a_dropped_stream_is_reconnected_at_most_once_a_second(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.stream = "drop-once"
    with Client(base_url=url, api_key="k") as client:
        task = client.wait("t2", timeout=30)
    assert task.status == "SUCCEEDED" and script.streams_opened == 2
    assert spaced_a_second_apart(script)


def test_a_failed_task_raises_with_its_code(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.final_status = "FAILED"
    with Client(base_url=url, api_key="k") as client, pytest.raises(TaskFailedError) as failed:
        client.wait("t3", timeout=30)
    assert failed.value.code == "InternalError" and failed.value.message == "the worker gave up"
    assert failed.value.task.status == "FAILED"


@pytest.mark.parametrize("refusal", ["missing", "throttled"])
def test_without_a_stream_it_polls_no_faster_than_once_a_second(fake: tuple[str, Script], refusal: str) -> None:
    url, script = fake
    script.stream = refusal
    seen: list[str] = []
    with Client(base_url=url, api_key="k") as client:
        task = client.wait("t4", timeout=30, on_progress=lambda t: seen.append(t.progress.phase))
    assert task.status == "SUCCEEDED" and script.polls == 3 and script.streams_opened == 0
    assert seen == ["running", "done"]  # a poll without progress reports what the status says
    assert [kind for _, kind in script.requests] == ["events", "poll", "poll", "poll"]
    assert spaced_a_second_apart(script)


def test_polling_honours_retry_after(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.stream, script.poll_failures, script.retry_after, script.polls_until_done = "missing", [429, 503], "2", 1
    with Client(base_url=url, api_key="k") as client:
        assert client.get("t5").status == "SUCCEEDED"  # get retries: 429, 503, then the answer
    first, second, third = (at for at, _ in script.requests)
    assert second - first >= 1.9 and third - second >= 1.9


def test_async_client_follows_the_stream(fake: tuple[str, Script]) -> None:
    url, script = fake
    script.event_type = ""  # events that name no type are task events too

    async def run() -> tuple[Task, list[str]]:
        seen: list[str] = []
        async with AsyncClient(base_url=url, api_key="k") as client:
            task = await client.wait("t6", timeout=30, on_progress=lambda t: seen.append(t.progress.phase))
        return task, seen

    task, seen = asyncio.run(run())
    assert task.status == "SUCCEEDED" and seen == [p["phase"] for _, p in PHASES]
