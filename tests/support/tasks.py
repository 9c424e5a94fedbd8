"""Tasks as the store tests make them: one realistic request, times past 32-bit integers."""

from __future__ import annotations

import uuid

from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import Task, TaskStatus

MODEL = "wan2.7-t2v"
OTHER_MODEL = "wan2.6-t2v"
T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC in epoch ms: beyond 32-bit integers on purpose
LEASE_S = 10.0  # a worker's lease in the store tests


def make_task(*, key_id: str = "key-a", model: str = MODEL, submit_ms: int = T0, task_id: str | None = None) -> Task:
    """A new PENDING task with a non-ASCII prompt."""
    request = GenerationRequest(
        model=model,
        prompt="一只猫在雨中跳舞 — a cat dancing in the rain",
        negative_prompt="blurry",
        width=1280,
        height=720,
        resolution="720P",
        ratio="16:9",
        duration=5,
        seed=None,
        prompt_extend=True,
        watermark=False,
    )
    return Task(
        task_id=task_id or str(uuid.uuid4()),
        key_id=key_id,
        request=request,
        status=TaskStatus.PENDING,
        submit_ms=submit_ms,
        request_id=str(uuid.uuid4()),
        seed=2_147_483_647,
    )
