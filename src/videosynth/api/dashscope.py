"""The DashScope dialect: create, query, cancel and list tasks, under /api/v1 and apiyi's /wan/api/v1."""

from __future__ import annotations

import math
from datetime import datetime, tzinfo
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from videosynth.api.body import read_json
from videosynth.api.context import request_id_of
from videosynth.api.dashscope_routes import DashScopeFastRoute, DashScopeRoute
from videosynth.api.dashscope_wire import read_create_body
from videosynth.api.deps import (
    POLL_INPUTS,
    WEBHOOK_HEADER,
    AuthorizationHeader,
    KeyDep,
    ServiceDep,
    idempotency_key,
    poll_inputs,
    result_url,
    service_of,
)
from videosynth.api.fast_route import add_fast_route, openapi_inputs
from videosynth.domain.errors import AccessDenied, InvalidParameter
from videosynth.domain.progress import progress_view
from videosynth.domain.task import Task, TaskStatus, format_time
from videosynth.service import ListQuery, TaskService

CREATE_PATH = "/services/aigc/video-generation/video-synthesis"
# The kf2v models' create (the SDK switches to it for any model name with "kf2v"); the body is the same.
IMAGE_CREATE_PATH = "/services/aigc/image2video/video-synthesis"
PREFIXES = ("/api/v1", "/wan/api/v1")
SYNC_CALLS_MESSAGE = "current user api does not support synchronous calls"
# What the create (a FastRoute) reads off its request, as its OpenAPI description.
CREATE_INPUTS = openapi_inputs(
    headers=["Authorization", "X-DashScope-Async"], optional_headers=["Idempotency-Key", WEBHOOK_HEADER], json_body=True
)

router = APIRouter(route_class=DashScopeRoute)  # all but the hot paths (register)


def _zone(request: Request) -> tzinfo:
    zone: tzinfo = request.app.state.time_zone
    return zone


def render_task(task: Task, video_url: str | None, zone: tzinfo) -> dict[str, Any]:
    """The `output` (and `usage`) of a query response, with only the fields the task's state has."""
    output: dict[str, Any] = {"task_id": task.task_id, "task_status": task.status.value}
    times = {"submit_time": task.submit_ms, "scheduled_time": task.scheduled_ms, "end_time": task.end_ms}
    output.update({name: format_time(ms, zone) for name, ms in times.items() if ms is not None})
    output["orig_prompt"] = task.request.prompt
    output["seed"] = task.seed  # the one given or the one chosen: with the same settings, the same video
    if task.actual_prompt:
        output["actual_prompt"] = task.actual_prompt
    if task.extension:
        output["prompt_extension"] = task.extension
    if task.record:
        output["reproducibility"] = task.record  # extension: how to make the same video again (worker/record.py)
    if video_url:
        output["video_url"] = video_url
    if task.status is TaskStatus.FAILED:
        output["code"] = task.error_code or "InternalError"
        output["message"] = task.error_message or ""
    response: dict[str, Any] = {"output": output}
    if task.status is TaskStatus.SUCCEEDED and task.usage:
        response["usage"] = task.usage
    return response


async def create_task(request: Request) -> JSONResponse:
    # The caller first: a bad key is a 401 whatever else is wrong with the create (headers, body).
    headers, service = request.headers, service_of(request)
    key = await service.authenticate(headers.get("authorization"))
    retry_key = _create_headers(headers)
    body = await read_json(request)
    draft = read_create_body(body)
    request_id = request_id_of(request)
    task = await service.submit(key, draft, request_id, retry_key, body=body, webhook_url=headers.get(WEBHOOK_HEADER))
    return JSONResponse(
        {"output": {"task_status": task.status.value, "task_id": task.task_id}, "request_id": request_id}
    )


def _create_headers(headers: Headers) -> str | None:
    """The create's Idempotency-Key, once its headers are found acceptable."""
    if (headers.get("x-dashscope-async") or "").strip().lower() != "enable":
        raise AccessDenied(SYNC_CALLS_MESSAGE)
    return idempotency_key(headers)


async def query_task(request: Request) -> JSONResponse:
    service, authorization, task_id = poll_inputs(request)
    return JSONResponse(poll_body(request, service, task_id, await service.poll(authorization, task_id)))


def poll_body(request: Request, service: TaskService, task_id: str, task: Task | None) -> dict[str, Any]:
    """The status poll's body (None: no such task for this key, UNKNOWN); the events stream sends it too.

    Besides DashScope's fields it carries ``progress`` (an extension: phase, percent, step of steps, ETA), so a
    client that polls sees the same honest progress as one that streams; DashScope's SDKs ignore it."""
    request_id = request_id_of(request)
    if task is None:
        output = {"task_id": task_id, "task_status": TaskStatus.UNKNOWN.value}
        return {"request_id": request_id, "output": output, "progress": progress_view(None)}
    rendered = render_task(task, result_url(service, task, request), _zone(request))
    return {"request_id": request_id, **rendered, "progress": progress_view(task)}


@router.post("/tasks/{task_id}/cancel")
async def cancel_task(
    task_id: str, request: Request, service: ServiceDep, authorization: AuthorizationHeader = None
) -> dict[str, Any]:
    await service.cancel(await service.authenticate(authorization), task_id)
    return {"request_id": request_id_of(request)}


def parse_time_filter(value: str | None, field: str, zone: tzinfo) -> int | None:
    """The SDKs send YYYYMMDDhhmmss (Python docstring) or epoch milliseconds (Java test): accept both."""
    if value is None or value == "":
        return None
    if value.isdigit() and len(value) == 14:
        try:
            return int(datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=zone).timestamp() * 1000)
        except ValueError:
            pass
    elif value.isdigit():
        return int(value)
    raise InvalidParameter(f"{field} must be YYYYMMDDhhmmss or epoch milliseconds, got {value!r}.")


def _status_filter(value: str | None) -> TaskStatus | None:
    if value is None or value == "":
        return None
    allowed = [s.value for s in TaskStatus if s is not TaskStatus.UNKNOWN]
    if value not in allowed:
        raise InvalidParameter(f"status must be one of {', '.join(allowed)}, got {value!r}.")
    return TaskStatus(value)


@router.get("/tasks")
def list_tasks(
    request: Request,
    service: ServiceDep,
    key: KeyDep,
    page_no: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 10,
    status: str | None = None,
    model_name: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
) -> dict[str, Any]:
    zone = _zone(request)
    query = ListQuery(
        page_no=page_no,
        page_size=page_size,
        status=_status_filter(status),
        model=model_name or None,
        start_ms=parse_time_filter(start_time, "start_time", zone),
        end_ms=parse_time_filter(end_time, "end_time", zone),
    )
    page = service.list(key, query)
    return {
        "request_id": request_id_of(request),
        "data": [_list_item(task) for task in page.tasks],
        "total": page.total,
        "total_page": math.ceil(page.total / page_size),
        "page_no": page_no,
        "page_size": page_size,
    }


def _list_item(task: Task) -> dict[str, Any]:
    """The Java SDK's AsyncTaskInfo shape: epoch-millisecond times."""
    return {
        "api_key_id": task.key_id,
        "task_id": task.task_id,
        "request_id": task.request_id,
        "model_name": task.request.model,
        "status": task.status.value,
        "gmt_create": task.submit_ms,
        "start_time": task.scheduled_ms,
        "end_time": task.end_ms,
    }


def register(app: FastAPI) -> None:
    # The hot paths (creates, status polls) first, as FastRoutes: called bare, documented by their inputs.
    for prefix in PREFIXES:
        for path in (CREATE_PATH, IMAGE_CREATE_PATH):
            add_fast_route(app, DashScopeFastRoute, f"{prefix}{path}", create_task, "POST", CREATE_INPUTS)
        add_fast_route(app, DashScopeFastRoute, f"{prefix}/tasks/{{task_id}}", query_task, "GET", POLL_INPUTS)
    for prefix in PREFIXES:
        app.include_router(router, prefix=prefix)
