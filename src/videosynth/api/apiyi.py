"""apiyi's normalised poll route: GET /v1/tasks/{task_id} → {task_id, status, progress, result_url, error}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from videosynth.api.deps import AuthorizationHeader, ServiceDep, base_url, with_key
from videosynth.domain.task import TaskStatus, relay_status
from videosynth.service import TaskService
from videosynth.store.protocols import ApiKey

router = APIRouter()


@router.get("/v1/tasks/{task_id}")
async def poll_task(
    task_id: str, request: Request, service: ServiceDep, authorization: AuthorizationHeader = None
) -> JSONResponse:
    base = base_url(request)
    return JSONResponse(await with_key(service, authorization, lambda key: _poll(service, key, task_id, base)))


def _poll(service: TaskService, key: ApiKey, task_id: str, base: str) -> dict[str, Any]:
    task = service.get(key, task_id)
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
        "result_url": service.result_url(task, base),
        "error": error,
    }


def register(app: FastAPI) -> None:
    app.include_router(router)
