"""The cursor listing and the delete a second dialect (OpenAI's /v1/videos) needs, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

from tests.support.tasks import LEASE_S, T0, make_task

from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import TaskStatus
from videosynth.store.queue import SqlTaskStore


def test_list_after_pages_through_a_keys_tasks_in_both_orders(task_store: SqlTaskStore) -> None:
    # Two tasks share a submit time: the task id breaks the tie, so no page skips or repeats one.
    made = [task_store.create(make_task(submit_ms=T0 + i // 2, task_id=f"t{i}")) for i in range(5)]
    task_store.create(make_task(key_id="key-b", submit_ms=T0 + 1, task_id="b0"))
    ids = [task.task_id for task in made]

    def walk(descending: bool, limit: int) -> list[str]:
        seen: list[str] = []
        after = None
        while page := task_store.list_after("key-a", after, limit, descending):
            seen += [task.task_id for task in page]
            after = page[-1].task_id
        return seen

    assert walk(True, 2) == ids[::-1]
    assert walk(False, 3) == ids
    assert [t.task_id for t in task_store.list_after("key-a", None, 10, start_ms=T0 + 2)] == ["t4"]
    assert task_store.list_after("key-a", "b0", 10) == []  # another key's id is no cursor here
    assert task_store.list_after("key-a", "nope", 10) == []


def test_delete_removes_only_a_keys_final_task(task_store: SqlTaskStore) -> None:
    done = task_store.create(make_task(task_id="done", submit_ms=T0))
    pending = task_store.create(make_task(task_id="pending", submit_ms=T0 + 1))
    claimed = task_store.claim("w1", None, T0, LEASE_S)
    assert claimed is not None and claimed.task_id == done.task_id
    assert task_store.delete(done.task_id, "key-a") is None  # RUNNING: a worker holds it
    assert task_store.finish_success(done.task_id, "w1", T0 + 5, "done.mp4", {})
    assert task_store.delete(done.task_id, "key-b") is None  # not that key's
    assert task_store.delete(done.task_id, "key-a") == ("done", "done.mp4")
    assert task_store.get(done.task_id) is None
    assert task_store.delete(done.task_id, "key-a") is None

    assert task_store.delete(pending.task_id, "key-a") is None  # PENDING: cancel it first
    task_store.cancel(pending.task_id, "key-a", T0 + 9)
    assert task_store.delete(pending.task_id, "key-a") == ("pending", None)
    assert task_store.count_active("key-a") == 0


def test_a_remix_source_is_stored_with_the_request_and_old_rows_read_none(task_store: SqlTaskStore) -> None:
    plain = make_task(task_id="plain")
    base = make_task(task_id="remix")
    remix = dataclasses.replace(base, request=dataclasses.replace(base.request, remixed_from="plain"))
    task_store.create(plain)
    task_store.create(remix)
    stored_plain, stored_remix = task_store.get("plain"), task_store.get("remix")
    assert stored_plain is not None and stored_plain.request.remixed_from is None
    assert stored_remix is not None and stored_remix.request.remixed_from == "plain"
    assert stored_remix.status is TaskStatus.PENDING
    old = {k: v for k, v in plain.request.to_dict().items() if k != "remixed_from"}
    assert GenerationRequest.from_dict(old).remixed_from is None
