"""The DashScope wire format: request bodies out, answers in. No I/O here; both clients share it."""

from __future__ import annotations

import json
from typing import Any

import httpx

from videosynth.client.errors import (
    InvalidParameterError,
    LinkExpiredError,
    NetworkError,
    ServerError,
    TaskNotFoundError,
    VideosynthError,
    error_for,
)
from videosynth.client.models import Progress, Task, TaskSummary, VideoRequest

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
TASKS_PATH = "/api/v1/tasks"

# When the server reports no phase (a poll of a server without the progress extension), the status says this much.
_PHASE_BY_STATUS = {"PENDING": "queued", "RUNNING": "running", "SUCCEEDED": "done"}


def create_body(request: VideoRequest) -> dict[str, Any]:
    inputs: dict[str, Any] = {"prompt": request.prompt}
    for name in ("negative_prompt", "audio_url", "first_frame_url", "last_frame_url"):
        if (value := getattr(request, name)) is not None:
            inputs[name] = value
    parameters = {
        name: value
        for name in ("resolution", "ratio", "size", "duration", "seed", "watermark", "prompt_extend")
        if (value := getattr(request, name)) is not None
    }
    return {"model": request.model, "input": inputs, "parameters": parameters}


def create_headers(idempotency_key: str) -> dict[str, str]:
    return {"X-DashScope-Async": "enable", "Idempotency-Key": idempotency_key}


def _progress(body: dict[str, Any], status: str) -> Progress:
    raw = body.get("progress")
    if not isinstance(raw, dict) or not isinstance(raw.get("phase"), str):
        return Progress(_PHASE_BY_STATUS.get(status, "done"), 100 if status == "SUCCEEDED" else None)
    return Progress(raw["phase"], raw.get("percent"), raw.get("step"), raw.get("steps"), raw.get("eta_s"))


def task_from_body(body: Any) -> Task:
    """A Task from a create, query or event body; a body without ``output.task_id`` is a ServerError."""
    output = body.get("output") if isinstance(body, dict) else None
    if not isinstance(output, dict) or not isinstance(output.get("task_id"), str):
        raise ServerError("InvalidResponse", "The server's answer has no output.task_id.")
    status = str(output.get("task_status", "UNKNOWN"))
    seed = output.get("seed")
    return Task(
        task_id=output["task_id"],
        status=status,
        progress=_progress(body, status),
        request_id=body.get("request_id"),
        video_url=output.get("video_url"),
        seed=seed if isinstance(seed, int) else None,
        orig_prompt=output.get("orig_prompt"),
        actual_prompt=output.get("actual_prompt"),
        submit_time=output.get("submit_time"),
        end_time=output.get("end_time"),
        code=output.get("code"),
        message=output.get("message"),
        usage=dict(body.get("usage") or {}),
        reproducibility=record if isinstance(record := output.get("reproducibility"), dict) else None,
    )


def known(task: Task) -> Task:
    """The task, unless the server says UNKNOWN (unknown, expired, or another key's)."""
    if task.status == "UNKNOWN":
        raise TaskNotFoundError("NotFound", f"No task {task.task_id} for this key.", task.request_id, 200)
    return task


def summaries_from_page(body: Any) -> tuple[list[TaskSummary], int]:
    """The rows of one list page and the number of pages."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ServerError("InvalidResponse", "The server's task list has no data.")
    rows = [
        TaskSummary(
            task_id=row["task_id"],
            status=row.get("status", "UNKNOWN"),
            model_name=row.get("model_name"),
            gmt_create=row.get("gmt_create"),
            end_time=row.get("end_time"),
            request_id=row.get("request_id"),
        )
        for row in body["data"]
    ]
    return rows, int(body.get("total_page") or 0)


def error_from(response: httpx.Response) -> VideosynthError:
    """The exception for an error answer (its body already read): DashScope's ``{"request_id","code","message"}``,
    or, from something that is not videosynth, the HTTP status alone."""
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or f"HTTP{response.status_code}")
    message = str(body.get("message") or response.reason_phrase or "error")
    request_id = body.get("request_id") or response.headers.get("x-request-id")
    return error_for(response.status_code, code, message, request_id)


def is_event_stream(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.split(";", maxsplit=1)[0].strip() == "text/event-stream"


def stream_unavailable(status: int) -> bool:
    """A status that means "use polling": no such endpoint (404/405/406), or too many open streams (429)."""
    return status in (404, 405, 406, 429)


def network_error(url: str, exc: Exception) -> NetworkError:
    return NetworkError("NetworkError", f"cannot reach {url}: {type(exc).__name__} {exc}".strip())


def video_url_of(task: Task | str) -> str:
    url = task if isinstance(task, str) else task.video_url
    if not url:
        assert isinstance(task, Task)
        raise InvalidParameterError("NoVideo", f"task {task.task_id} has no video ({task.status}).", task.request_id)
    return url


def link_error(response: httpx.Response) -> VideosynthError:
    if response.status_code in (403, 404, 410):
        return LinkExpiredError("LinkExpired", "The video link was refused (expired?); get the task again.")
    return error_from(response)
