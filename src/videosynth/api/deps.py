"""FastAPI dependencies: the service from app state and the caller's API key."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request
from starlette.concurrency import run_in_threadpool

from videosynth.service import TaskService
from videosynth.store.protocols import ApiKey


async def get_service(request: Request) -> TaskService:
    # async: a plain attribute read must not cost a threadpool hop on every request.
    service: TaskService = request.app.state.service
    return service


ServiceDep = Annotated[TaskService, Depends(get_service)]


def current_key(service: ServiceDep, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    return service.authenticate(authorization)


KeyDep = Annotated[ApiKey, Depends(current_key)]


AuthorizationHeader = Annotated[str | None, Header(alias="Authorization")]

T = TypeVar("T")


async def with_key(service: TaskService, authorization: str | None, work: Callable[[ApiKey], T]) -> T:
    """Authenticate and do the request's store work in one threadpool hop. Polls are the hot path, and each
    hop (a sync dependency, a sync endpoint) costs more on a small machine than the queries themselves."""

    def run() -> T:
        return work(service.authenticate(authorization))

    return await run_in_threadpool(run)


def base_url(request: Request) -> str:
    return str(request.base_url)
