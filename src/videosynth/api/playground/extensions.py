"""videosynth's read-only extensions of the DashScope dialect that the playground needs (any client may use them):

- ``GET /api/v1/models``: the served models, each with the sizes, durations and text limits a create of it follows;
- ``GET /api/v1/tasks/{task_id}/parameters``: a task's request as a DashScope create body would send it, with its
  progress (the query's output has neither), so a client can show it and send it again.

Both need the caller's key; a task of another key is NotFound, as everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from videosynth.api.context import request_id_of
from videosynth.api.dashscope_routes import DashScopeRoute
from videosynth.api.deps import KeyDep, ServiceDep
from videosynth.domain.catalog import NEGATIVE_PROMPT_LIMIT, SEED_MAX, ModelSpec, Protocol
from videosynth.domain.request import RequestDefaults
from videosynth.domain.rerun import create_body
from videosynth.domain.task import Task, TaskStatus

PREFIX = "/api/v1"

router = APIRouter(route_class=DashScopeRoute)


@router.get("/models")
def list_models(request: Request, service: ServiceDep, key: KeyDep) -> dict[str, Any]:
    defaults = service.request_defaults
    return {
        "request_id": request_id_of(request),
        "data": [render_model(spec, defaults) for spec in service.models.values()],
    }


def render_model(spec: ModelSpec, defaults: RequestDefaults) -> dict[str, Any]:
    """One model's rules: ``sizes`` is resolution → ratio → "W*H" (wan2.7 takes resolution and ratio, the older
    models take the size itself)."""
    tiers = spec.sizes_by_tier().items()
    sizes = {tier: {ratio: f"{w}*{h}" for ratio, (w, h) in by_ratio.items()} for tier, by_ratio in tiers}
    durations = spec.served_durations()
    return {
        "name": spec.name,
        "protocol": spec.protocol.value,
        "sizes": sizes,
        "default_resolution": defaults.resolution if defaults.resolution in sizes else next(iter(sizes), None),
        "default_ratio": defaults.ratio,
        "default_size": "{}*{}".format(*spec.default_size),
        "durations": list(durations),
        "default_duration": spec.default_duration if spec.default_duration in durations else max(durations, default=0),
        "duration_limit_reason": spec.limit.reason if spec.limit else None,
        "prompt_limit": spec.prompt_limit,
        "negative_prompt_limit": NEGATIVE_PROMPT_LIMIT,
        "seed_max": SEED_MAX,
        "default_prompt_extend": defaults.prompt_extend,
        "default_watermark": defaults.watermark,
    }


@router.get("/tasks/{task_id}/parameters")
async def task_parameters(task_id: str, request: Request, service: ServiceDep, key: KeyDep) -> dict[str, Any]:
    task = await run_in_threadpool(service.own_task, key, task_id)
    return {"request_id": request_id_of(request), **render_parameters(task, service.models)}


def render_parameters(task: Task, models: Mapping[str, ModelSpec]) -> dict[str, Any]:
    """The task's create body (the seed it was made with included: sent again, it makes the same video)."""
    asked = task.request
    spec = models.get(asked.model)
    return {
        "task_id": task.task_id,
        "task_status": task.status.value,
        "progress": 100 if task.status is TaskStatus.SUCCEEDED else task.progress,
        "resolution": asked.resolution,
        "ratio": asked.ratio,
        "body": create_body(asked, task.seed, spec.protocol if spec else Protocol.WAN27),
    }


def register(app: FastAPI) -> None:
    app.include_router(router, prefix=PREFIX)
