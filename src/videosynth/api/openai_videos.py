"""The OpenAI Videos dialect (api-contract.md §4): /v1/videos create, retrieve, list, delete, content and remix.

A video id is a task id: a task made through either dialect is visible in both, and each key sees only its own.
Statuses read PENDING → queued, RUNNING → in_progress, SUCCEEDED → completed, FAILED and CANCELED → failed (with
an error saying which). Deleting removes the task's row and files: a PENDING task is canceled first, a RUNNING one
is refused with 409 until it finishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from videosynth.api.body import media_type, read_form, read_json
from videosynth.api.context import request_id_of
from videosynth.api.deps import (
    POLL_INPUTS,
    WEBHOOK_HEADER,
    KeyDep,
    ServiceDep,
    idempotency_key,
    poll_inputs,
    service_of,
)
from videosynth.api.fast_route import add_fast_route, openapi_inputs
from videosynth.api.openai_routes import OpenAIFastRoute, OpenAIRoute
from videosynth.api.openai_wire import read_create_body, remix_draft
from videosynth.domain.errors import InvalidField, InvalidParameter, NotFound
from videosynth.domain.task import Task, TaskStatus
from videosynth.service import TaskService
from videosynth.storage.keys import Variant, content_type
from videosynth.storage.protocols import BlobReader

PREFIX = "/v1/videos"
POLL_AFTER_MS = "1000"  # how long the SDK's poll() sleeps between retrieves of a video still in the queue
CHUNK_BYTES = 1 << 16

_STATUS = {
    TaskStatus.PENDING: "queued",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELED: "failed",
}
CANCELED_ERROR = {"code": "canceled", "message": "The task was canceled before it started."}

router = APIRouter(route_class=OpenAIRoute)


def _seconds(epoch_ms: int | None) -> int | None:
    return None if epoch_ms is None else epoch_ms // 1000


def render_video(task: Task, service: TaskService) -> dict[str, Any]:
    """The Video object, every field present (the nullable ones as null), as the openai SDK models it."""
    error: dict[str, str] | None = None
    if task.status is TaskStatus.FAILED:
        error = {"code": task.error_code or "InternalError", "message": task.error_message or ""}
    elif task.status is TaskStatus.CANCELED:
        error = CANCELED_ERROR
    request = task.request
    return {
        "id": task.task_id,
        "object": "video",
        "model": request.model,
        "status": _STATUS.get(task.status, "failed"),
        "progress": task.progress,
        "created_at": _seconds(task.submit_ms),
        "completed_at": _seconds(task.end_ms) if task.status.is_final else None,
        "expires_at": _seconds(service.expires_ms(task)),
        "prompt": request.prompt,
        "seconds": str(request.duration),
        "size": f"{request.width}x{request.height}",
        "error": error,
        "remixed_from_video_id": request.remixed_from,
        "seed": task.seed,  # videosynth's extension: the same request with this seed makes the same video
    }


def _video_response(task: Task, service: TaskService) -> JSONResponse:
    headers = {"openai-poll-after-ms": POLL_AFTER_MS} if task.status.is_active else None
    return JSONResponse(render_video(task, service), headers=headers)


async def create_video(request: Request) -> JSONResponse:
    # The caller first: a bad key is a 401 whatever else is wrong with the create.
    service = service_of(request)
    key = await service.authenticate(request.headers.get("authorization"))
    body, files = await _create_body(request)
    draft = read_create_body(body, service.model_names(), service.openai_default_model, files)
    task = await service.submit(
        key,
        draft,
        request_id_of(request),
        idempotency_key(request.headers),
        body=body,
        webhook_url=request.headers.get(WEBHOOK_HEADER),
    )
    return _video_response(task, service)


async def _create_body(request: Request) -> tuple[object, set[str]]:
    kind = media_type(request)
    if kind == "application/json":
        return await read_json(request), set()
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return await read_form(request)
    shown = request.headers.get("content-type", "") or "none"
    raise InvalidParameter(f"Content-Type must be multipart/form-data or application/json, got {shown}.")


async def retrieve_video(request: Request) -> JSONResponse:
    service, authorization, task_id = poll_inputs(request)
    task = await service.poll(authorization, task_id)
    if task is None:
        raise NotFound(f"No video found with id '{task_id}'.")
    return _video_response(task, service)


@router.get("")
def list_videos(
    service: ServiceDep,
    key: KeyDep,
    after: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    order: Literal["asc", "desc"] = "desc",
) -> dict[str, Any]:
    tasks, has_more = service.page_after(key, after or None, limit, descending=order == "desc")
    return {
        "object": "list",
        "data": [render_video(task, service) for task in tasks],
        "has_more": has_more,
        "first_id": tasks[0].task_id if tasks else None,
        "last_id": tasks[-1].task_id if tasks else None,
    }


@router.delete("/{video_id}")
async def delete_video(video_id: str, service: ServiceDep, key: KeyDep) -> dict[str, Any]:
    await service.delete(key, video_id)
    return {"id": video_id, "object": "video.deleted", "deleted": True}


@router.get("/{video_id}/content", response_class=StreamingResponse)
async def download_content(
    video_id: str, service: ServiceDep, key: KeyDep, variant: str = Variant.VIDEO.value
) -> StreamingResponse:
    try:
        chosen = Variant(variant)
    except ValueError:
        allowed = ", ".join(f"'{v.value}'" for v in Variant)
        raise InvalidField(f"variant must be one of {allowed}, got {variant!r}.", field="variant") from None
    task = await run_in_threadpool(service.own_task, key, video_id)
    reader = await run_in_threadpool(service.open_variant, task, chosen)
    return StreamingResponse(_chunks(reader), media_type=content_type(chosen))


def _chunks(reader: BlobReader) -> Iterator[bytes]:
    with reader:
        while chunk := reader.read(CHUNK_BYTES):
            yield chunk


@router.post("/{video_id}/remix")
async def remix_video(video_id: str, request: Request, service: ServiceDep, key: KeyDep) -> JSONResponse:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise InvalidParameter("The request body must be a JSON object with a 'prompt'.")
    source = await run_in_threadpool(service.own_task, key, video_id)
    draft = remix_draft(source.request, source.seed, body.get("prompt"))
    task = await service.submit(
        key,
        draft,
        request_id_of(request),
        body=body,
        remixed_from=source.task_id,
        webhook_url=request.headers.get(WEBHOOK_HEADER),
    )
    return _video_response(task, service)


def register(app: FastAPI) -> None:
    # The hot paths (creates, retrieves while polling) first, as FastRoutes.
    create_inputs = openapi_inputs(headers=["Authorization"], optional_headers=["Idempotency-Key", WEBHOOK_HEADER])
    form = {"schema": {"type": "object"}}
    content = {"multipart/form-data": form, "application/json": form}
    create_inputs["requestBody"] = {"required": True, "content": content}
    add_fast_route(app, OpenAIFastRoute, PREFIX, create_video, "POST", create_inputs)
    add_fast_route(app, OpenAIFastRoute, f"{PREFIX}/{{task_id}}", retrieve_video, "GET", POLL_INPUTS)
    app.include_router(router, prefix=PREFIX)
