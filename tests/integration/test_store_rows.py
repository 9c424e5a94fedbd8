"""The Task ↔ tasks row mapping (store/rows.py): every Task field has one column, every column is written for a
new task, and a task with every field set comes back equal from both databases, through the store and the poll
reader alike.

The sample task is derived from Task's own fields and type hints, so a new field is covered here without an edit
(a field of a type ``sample_value`` does not know fails loudly, asking for one)."""

from __future__ import annotations

import asyncio
import dataclasses
import types
import typing
from typing import Any

from sqlalchemy import BigInteger, Engine
from tests.support.tasks import T0

from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import Task, TaskStatus
from videosynth.store.keys import SqlKeyStore
from videosynth.store.queue import SqlTaskStore
from videosynth.store.reads import key_task_reader
from videosynth.store.rows import TASK_COLUMNS, row_to_task, task_row
from videosynth.store.schema import tasks

_COLUMN_OF = {mapped.field: mapped.column for mapped in TASK_COLUMNS}


def every_field_request() -> GenerationRequest:
    """A request whose every field differs from its default, with text past ASCII."""
    return GenerationRequest(
        model="wan2.7-t2v",
        prompt="黄昏海边的灯塔 — a lighthouse at dusk",
        negative_prompt="模糊",
        width=1104,
        height=832,
        resolution="720P",
        ratio="4:3",
        duration=7,
        seed=42,
        prompt_extend=False,
        watermark=True,
        audio_url="https://example.com/a.mp3",
        prompt_truncated=True,
        negative_prompt_truncated=True,
    )


def sample_value(name: str, hint: Any, index: int) -> Any:
    """A value for Task field ``name`` that is not its default and fits its column."""
    if hint is TaskStatus:
        return TaskStatus.PENDING  # the only status a create writes
    if hint is GenerationRequest:
        return every_field_request()
    if isinstance(hint, types.UnionType):  # X | None: a value of X
        [hint] = [kind for kind in typing.get_args(hint) if kind is not type(None)]
    kind = typing.get_origin(hint) or hint
    if kind is int:
        return T0 + index if isinstance(tasks.c[_COLUMN_OF[name]].type, BigInteger) else index + 1
    if kind is str:
        return f"{name}-二-{index}"
    if kind is dict:
        return {name: [index, "二", {"nested": True, "none": None}], "float": 0.5}
    raise AssertionError(f"Task.{name} is a {hint}: teach sample_value a value for it")


def every_field_task(**fixed: Any) -> Task:
    """A PENDING task with no field at its default (ints from 1, text and objects non-empty)."""
    hints = typing.get_type_hints(Task)
    fields = dataclasses.fields(Task)
    values = {field.name: sample_value(field.name, hints[field.name], i) for i, field in enumerate(fields)}
    return Task(**{**values, **fixed})


def test_every_task_field_has_exactly_one_column() -> None:
    mapped = [mapped.field for mapped in TASK_COLUMNS]
    assert sorted(mapped) == sorted(field.name for field in dataclasses.fields(Task))
    columns = [mapped.column for mapped in TASK_COLUMNS]
    assert len(set(columns)) == len(columns) and set(columns) <= set(tasks.c.keys())


def test_a_new_tasks_row_has_every_column_of_the_table() -> None:
    # A tasks column that neither a Task field nor the queue's own bookkeeping fills fails here (and in inserts).
    assert set(task_row(every_field_task(), "idem", "hash")) == set(tasks.c.keys())


def test_the_mapping_round_trips_every_status_without_a_database() -> None:
    for status in TaskStatus:
        task = every_field_task(status=status)
        assert row_to_task(task_row(task, None, None)) == task


def test_a_task_with_every_field_set_round_trips_through_the_database(task_store: SqlTaskStore) -> None:
    task = every_field_task()
    assert task_store.create(task, idempotency_key="idem", request_hash="h") == task
    assert task_store.get(task.task_id) == task
    assert task_store.list(task.key_id, 1, 10).tasks == [task]
    retried = task_store.create(every_field_task(task_id="another"), idempotency_key="idem", request_hash="h")
    assert retried == task  # a retry's answer is read back through the same mapping


def test_the_poll_reader_reads_the_same_task(engine: Engine, task_store: SqlTaskStore) -> None:
    key, secret = SqlKeyStore(engine).create("rows", T0)
    task = task_store.create(every_field_task(key_id=key.key_id))

    async def poll() -> Task | None:
        reader = key_task_reader(engine)
        try:
            return (await reader.find(secret, task.task_id)).task
        finally:
            await reader.aclose()

    assert asyncio.run(poll()) == task
