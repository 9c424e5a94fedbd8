"""Shared pieces of the API routes: the service from app state, the caller's API key, hot routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request, Response

from videosynth.api.hot import HotRoutes
from videosynth.domain.task import Task
from videosynth.service import TaskService
from videosynth.store.protocols import ApiKey


async def get_service(request: Request) -> TaskService:
    # async: a plain attribute read must not cost a threadpool hop on every request.
    return service_of(request)


ServiceDep = Annotated[TaskService, Depends(get_service)]


async def current_key(service: ServiceDep, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    return await service.authenticate(authorization)


KeyDep = Annotated[ApiKey, Depends(current_key)]


AuthorizationHeader = Annotated[str | None, Header(alias="Authorization")]


# The hot routes (poll, create) read their inputs off the Request themselves: FastAPI's parameter solving cost
# ~20 % of a poll. These describe the same inputs in the OpenAPI document.
def _header(name: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": {"type": "string"}}


POLL_PARAMETERS = {
    "parameters": [
        {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string"}},
        _header("Authorization", required=True),
    ]
}
CREATE_PARAMETERS = {
    "parameters": [_header("Authorization", True), _header("X-DashScope-Async", True), _header("Idempotency-Key")],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
}


def add_hot_route(
    app: FastAPI, path: str, endpoint: Callable[[Request], Awaitable[Response]], method: str = "GET"
) -> None:
    """Serve ``method`` on ``path`` as a hot route (api/hot.py), ahead of FastAPI's routing. Register the FastAPI
    route of the same path and endpoint too: it stays as the OpenAPI description (and serves nothing)."""
    hot: HotRoutes = app.state.hot_routes
    hot.add(method, path, endpoint)


def service_of(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


def poll_inputs(request: Request) -> tuple[TaskService, str | None, str]:
    """(service, Authorization header, task_id) of a poll route's request."""
    return service_of(request), request.headers.get("authorization"), request.path_params["task_id"]


def base_url(request: Request) -> str:
    return str(request.base_url)


def result_url(service: TaskService, task: Task, request: Request) -> str | None:
    return service.result_url(task, lambda: base_url(request))
