"""Shared pieces of the API routes: the service from app state, the caller's API key, the hot paths' inputs."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.datastructures import Headers

from videosynth.api.fast_route import openapi_inputs
from videosynth.domain.errors import InvalidParameter
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


# What every dialect's poll (a FastRoute) reads off its request, as its OpenAPI description.
POLL_INPUTS = openapi_inputs(path=["task_id"], headers=["Authorization"])


# A create's callback URL (any dialect): its terminal event is POSTed there (webhooks/).
WEBHOOK_HEADER = "X-Webhook-Url"


def idempotency_key(headers: Headers) -> str | None:
    """A create's Idempotency-Key header (any dialect), refused unless 1 to 255 characters."""
    key = headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= 255:
        raise InvalidParameter("The Idempotency-Key header must be 1 to 255 characters.")
    return key


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
