"""Task ↔ tasks row: the one table that says which column holds which Task field, and how.

Every other piece follows from it and the schema: ``row_to_task`` (the store's reads and the poll reader),
``task_row`` (a new task's insert), the bulk insert's column list (store/insert.py) and the JSON columns a raw
DBAPI reader must decode. A new Task field stored in a new column is one ``FieldColumn`` line here, beside the
schema's column and its migration; tests/integration/test_store_rows.py fails until the two agree.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON

from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import Task, TaskStatus
from videosynth.store.schema import tasks


def _json_object(value: Any) -> dict[str, Any]:
    return dict(value or {})


def _status_value(status: TaskStatus) -> str:
    return status.value


@dataclass(frozen=True)
class FieldColumn:
    """One Task field and its column; ``dump``/``load`` convert when the column holds another type (None: the
    value as it is)."""

    column: str
    field: str
    dump: Callable[[Any], Any] | None = None
    load: Callable[[Any], Any] | None = None


TASK_COLUMNS: tuple[FieldColumn, ...] = (
    FieldColumn("task_id", "task_id"),
    FieldColumn("key_id", "key_id"),
    FieldColumn("request_json", "request", GenerationRequest.to_dict, GenerationRequest.from_dict),
    FieldColumn("status", "status", _status_value, TaskStatus),
    FieldColumn("submit_ms", "submit_ms"),
    FieldColumn("request_id", "request_id"),
    FieldColumn("seed", "seed"),
    FieldColumn("scheduled_ms", "scheduled_ms"),
    FieldColumn("end_ms", "end_ms"),
    FieldColumn("progress", "progress"),
    FieldColumn("attempts", "attempts"),
    FieldColumn("result_key", "result_key"),
    FieldColumn("error_code", "error_code"),
    FieldColumn("error_message", "error_message"),
    FieldColumn("actual_prompt", "actual_prompt"),
    FieldColumn("extension_json", "extension", load=_json_object),
    FieldColumn("usage_json", "usage", load=_json_object),
    FieldColumn("backend_state_json", "backend_state", load=_json_object),
    FieldColumn("record_json", "record", load=_json_object),
    FieldColumn("phase", "phase"),
    FieldColumn("step", "step"),
    FieldColumn("steps", "steps"),
    FieldColumn("eta_ms", "eta_ms"),
)

# Columns a raw DBAPI read hands over as JSON text (SQLite) rather than decoded.
JSON_COLUMNS = tuple(column.name for column in tasks.c if isinstance(column.type, JSON))


def row_to_task(row: Mapping[Any, Any]) -> Task:
    """The one place a tasks row becomes a Task."""
    return Task(
        **{
            mapped.field: row[mapped.column] if mapped.load is None else mapped.load(row[mapped.column])
            for mapped in TASK_COLUMNS
        }
    )


def task_row(
    task: Task, idempotency_key: str | None, request_hash: str | None, webhook_url: str | None = None
) -> dict[str, Any]:
    """A new task's whole row: its fields, then the queue's own columns (no Task field) as a new task has them;
    the store keeps those afterwards (claims set the lease, every write stamps updated_ms)."""
    row = {
        mapped.column: getattr(task, mapped.field) if mapped.dump is None else mapped.dump(getattr(task, mapped.field))
        for mapped in TASK_COLUMNS
    }
    row.update(
        model=task.request.model,
        lease_owner=None,
        lease_expires_ms=None,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        webhook_url=webhook_url,
        updated_ms=task.submit_ms,
    )
    return row
