"""FastAPI dependencies: the service from app state and the caller's API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from videosynth.service import TaskService
from videosynth.store.protocols import ApiKey


def get_service(request: Request) -> TaskService:
    service: TaskService = request.app.state.service
    return service


ServiceDep = Annotated[TaskService, Depends(get_service)]


def current_key(service: ServiceDep, authorization: Annotated[str | None, Header()] = None) -> ApiKey:
    return service.authenticate(authorization)


KeyDep = Annotated[ApiKey, Depends(current_key)]


def base_url(request: Request) -> str:
    return str(request.base_url)
