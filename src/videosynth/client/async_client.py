"""``AsyncClient``: the asyncio SDK, the same calls as ``Client`` awaited."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

import httpx

from videosynth.client import wire
from videosynth.client.config import resolve_api_key, resolve_base_url
from videosynth.client.errors import NetworkError, ServerError, ThrottledError
from videosynth.client.files import atomic_target
from videosynth.client.models import Task, TaskSummary, Video, VideoOptions, VideoRequest
from videosynth.client.retry import Retries
from videosynth.client.sse import EventParser
from videosynth.client.sync_client import MAX_PAGES, USER_AGENT
from videosynth.client.waiting import (
    DEFAULT_WAIT_S,
    TASK_EVENTS,
    ProgressCallback,
    StreamUnavailable,
    Watch,
    event_task,
    final,
    refusal,
)


class AsyncClient:
    """A videosynth (or DashScope) server: ``Client(base_url=..., api_key=...)``, else VIDEOSYNTH_BASE_URL and
    DASHSCOPE_API_KEY from the environment."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
    ) -> None:
        self.base_url = resolve_base_url(base_url)
        self._timeout, self._max_retries = timeout, max_retries
        headers = {"Authorization": f"Bearer {resolve_api_key(api_key)}", "User-Agent": USER_AGENT}
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, headers=headers)
        # Video links are signed: fetched with no Authorization header, so the key never goes to a storage host.
        self._files = httpx.AsyncClient(timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._files.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.aclose()

    async def _send(self, method: str, path: str, retries: int | None = None, **kwargs: Any) -> httpx.Response:
        budget = Retries(self._max_retries if retries is None else retries)
        while True:
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if (wait := budget.delay(None)) is None:
                    raise wire.network_error(self.base_url, exc) from None
            else:
                if response.is_success:
                    return response
                if (wait := budget.delay(response.status_code, response.headers.get("retry-after"))) is None:
                    raise wire.error_from(response)
            await asyncio.sleep(wait)

    async def submit(self, prompt: str, *, idempotency_key: str | None = None, **options: Unpack[VideoOptions]) -> Task:
        """Create a task. Always sent with an Idempotency-Key (a new one unless given), so a retry is safe."""
        body = wire.create_body(VideoRequest(prompt=prompt, **options))
        headers = wire.create_headers(idempotency_key or uuid.uuid4().hex)
        return wire.task_from_body((await self._send("POST", wire.CREATE_PATH, json=body, headers=headers)).json())

    async def get(self, task_id: str) -> Task:
        """The task now; TaskNotFoundError when the server does not know it for this key."""
        return wire.known(await self._get(task_id))

    async def _get(self, task_id: str, retries: int | None = None) -> Task:
        return wire.task_from_body((await self._send("GET", f"{wire.TASKS_PATH}/{task_id}", retries)).json())

    async def cancel(self, task_id: str) -> None:
        """Cancel a PENDING task (anything else: InvalidParameterError UnsupportedOperation)."""
        await self._send("POST", f"{wire.TASKS_PATH}/{task_id}/cancel")

    async def list(
        self, *, status: str | None = None, model: str | None = None, page_size: int = 50
    ) -> AsyncIterator[TaskSummary]:
        """This key's tasks, newest first, page after page."""
        params: dict[str, Any] = {"page_size": page_size}
        params |= {k: v for k, v in (("status", status), ("model_name", model)) if v}
        for page_no in range(1, MAX_PAGES + 1):
            rows, pages = wire.summaries_from_page(
                (await self._send("GET", wire.TASKS_PATH, params={**params, "page_no": page_no})).json()
            )
            for row in rows:
                yield row
            if page_no >= pages or not rows:
                return

    async def wait(
        self, task_id: str, timeout: float = DEFAULT_WAIT_S, on_progress: ProgressCallback | None = None
    ) -> Task:
        """Until the task finishes: the SUCCEEDED task, or TaskFailedError / TaskNotFoundError / WaitTimeoutError.
        Follows the events stream where the server has one, else polls; ``on_progress`` sees every change."""
        watch = Watch(task_id, timeout, time.monotonic(), on_progress, self._max_retries)
        while True:
            await asyncio.sleep(watch.delay(time.monotonic()))
            watch.check_deadline(time.monotonic())
            watch.sent(time.monotonic())
            try:
                task = await (self._follow(watch) if watch.use_stream else self._poll(watch))
            except StreamUnavailable:
                watch.stream_refused()
                continue
            except (NetworkError, ServerError, ThrottledError) as exc:
                watch.failed(exc)
                continue
            if task is not None and task.finished:
                return final(task)

    async def _poll(self, watch: Watch) -> Task:
        task = await self._get(watch.task_id, retries=0)
        watch.polled(watch.report(task))
        return task

    async def _follow(self, watch: Watch) -> Task | None:
        """Read the events stream until the terminal event (returned) or until it ends early (None)."""
        headers = {"Accept": "text/event-stream"} | (
            {"Last-Event-ID": watch.last_event_id} if watch.last_event_id else {}
        )
        timeout = httpx.Timeout(self._timeout, read=watch.read_timeout(time.monotonic()))
        parser = EventParser()
        try:
            async with self._http.stream(
                "GET", f"{wire.TASKS_PATH}/{watch.task_id}/events", headers=headers, timeout=timeout
            ) as response:
                if not response.is_success or not wire.is_event_stream(response):
                    await response.aread()
                    raise refusal(response)
                async for line in response.aiter_lines():
                    watch.check_deadline(time.monotonic())
                    event = parser.feed(line)
                    watch.last_event_id = parser.last_id
                    if event is not None and event.event in TASK_EVENTS:
                        task = event_task(event.data)
                        watch.report(task)
                        if task.finished:
                            return task
        except httpx.TransportError as exc:
            raise wire.network_error(self.base_url, exc) from None
        return None

    async def download(self, task: Task | str, path: str | Path) -> Path:
        """Stream a task's video (or a video URL) to ``path`` through a temp file renamed at the end."""
        url, target = wire.video_url_of(task), Path(path)
        budget = Retries(self._max_retries)
        while True:
            try:
                async with self._files.stream("GET", url) as response:
                    if response.is_success:
                        with atomic_target(target) as handle:
                            async for chunk in response.aiter_bytes():
                                handle.write(chunk)
                        return target
                    await response.aread()
                    if (wait := budget.delay(response.status_code, response.headers.get("retry-after"))) is None:
                        raise wire.link_error(response)
            except httpx.TransportError as exc:
                if (wait := budget.delay(None)) is None:
                    raise wire.network_error(url.split("?")[0], exc) from None
            await asyncio.sleep(wait)

    async def generate(
        self,
        prompt: str,
        path: str | Path,
        *,
        timeout: float = DEFAULT_WAIT_S,
        on_progress: ProgressCallback | None = None,
        **options: Unpack[VideoOptions],
    ) -> Video:
        """Submit, wait, download: the video on disk, or the error that stopped it."""
        created = await self.submit(prompt, **options)
        task = await self.wait(created.task_id, timeout=timeout, on_progress=on_progress)
        target = await self.download(task, path)
        return Video(task, target, target.stat().st_size)
