"""The event body: ``{"type", "timestamp", "data"}``, data being the DashScope query response's output object."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

TEST_EVENT_TYPE = "webhook.test"

# The task's DashScope output object by task id (None: the task is gone, e.g. deleted before delivery).
RenderOutput = Callable[[str], Mapping[str, Any] | None]


def event_body(event_type: str, created_ms: int, data: Mapping[str, Any]) -> bytes:
    """The exact bytes signed and sent (compact JSON, non-ASCII kept as is)."""
    timestamp = datetime.fromtimestamp(created_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    body = {"type": event_type, "timestamp": timestamp.replace("+00:00", "Z"), "data": dict(data)}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def task_data(render: RenderOutput, task_id: str) -> Mapping[str, Any]:
    """The task as a poll shows it now; a task deleted since its event was written reads as a poll would."""
    return render(task_id) or {"task_id": task_id, "task_status": "UNKNOWN"}
