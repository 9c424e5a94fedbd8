"""apiyi's normalised poll route: GET /v1/tasks/{task_id} → {task_id, status, progress, result_url, error}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from videosynth.api.dashscope_routes import DashScopeFastRoute
from videosynth.api.deps import POLL_INPUTS, poll_inputs, result_url
from videosynth.api.fast_route import add_fast_route
from videosynth.domain.task import Task, TaskStatus, relay_status

POLL_PATH = "/v1/tasks/{task_id}"


async def poll_task(request: Request) -> JSONResponse:
    service, authorization, task_id = poll_inputs(request)
    task = await service.poll(authorization, task_id)
    return JSONResponse(_render(task, task_id, None if task is None else result_url(service, task, request)))


def _render(task: Task | None, task_id: str, video_url: str | None) -> dict[str, Any]:
    if task is None:
        # Unknown, expired and other keys' tasks look identical; "failed" ends a relay client's poll loop.
        message = "Task does not exist or has expired."
        return {
            "task_id": task_id,
            "status": "failed",
            "progress": 0,
            "result_url": None,
            "error": {"code": "UNKNOWN", "message": message},
        }
    progress = 100 if task.status is TaskStatus.SUCCEEDED else task.progress
    error = None
    if task.status is TaskStatus.FAILED:
        error = {"code": task.error_code, "message": f"[{task.error_code}] {task.error_message}"}
    elif task.status is TaskStatus.CANCELED:
        error = {"code": "Canceled", "message": "[Canceled] The task was canceled."}
    return {
        "task_id": task.task_id,
        "status": relay_status(task.status),
        "progress": progress,
        "result_url": video_url,
        "error": error,
    }


def register(app: FastAPI) -> None:
    # A hot path (fast_route.py); its errors in the shape of the API it relays.
    add_fast_route(app, DashScopeFastRoute, POLL_PATH, poll_task, "GET", POLL_INPUTS)
