"""A create finds its caller once, up front, through the poll's read path, and hands the writer a complete task;
a bad key is reported before anything else is looked at, and nothing is written for it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient

from videosynth import compose
from videosynth.api.app import ApiParts, create_app
from videosynth.service import TaskService
from videosynth.settings import Settings
from videosynth.store.protocols import NO_TASK, ApiKey, CreateOutcome, KeyAndTask, KeyTaskReader, NewTask, Writer

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
GOOD_BODY = {"model": "wan2.7-t2v", "input": {"prompt": "a lighthouse at dusk"}}
T = TypeVar("T")


@dataclass
class CountingReader:
    """The real reader, noting the task_id of every lookup."""

    inner: KeyTaskReader
    lookups: list[str] = field(default_factory=list)

    async def find(self, secret: str, task_id: str) -> KeyAndTask:
        self.lookups.append(task_id)
        return await self.inner.find(secret, task_id)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class RecordingWriter:
    """The real writer, keeping every create it is handed."""

    inner: Writer
    created: list[NewTask] = field(default_factory=list)

    async def create(self, item: NewTask) -> CreateOutcome:
        self.created.append(item)
        return await self.inner.create(item)

    async def run(self, work: Callable[[], T]) -> T:
        return await self.inner.run(work)

    def close(self) -> None:
        self.inner.close()


@dataclass
class Served:
    client: TestClient
    key: ApiKey
    secret: str
    reader: CountingReader
    writer: RecordingWriter

    def post(self, headers: dict[str, str], body: object) -> tuple[int, dict[str, Any]]:
        self.reader.lookups.clear()
        self.writer.created.clear()
        headers = {"Content-Type": "application/json", **headers}
        content = body if isinstance(body, bytes) else json.dumps(body)
        response = self.client.post(CREATE, headers=headers, content=content)
        return response.status_code, response.json()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("create-path")))
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    key, secret = keys.create("creator", 0)
    doubles: list[tuple[CountingReader, RecordingWriter]] = []

    @asynccontextmanager
    async def counted() -> AsyncIterator[ApiParts]:
        async with compose.api_stores(settings) as stores:
            reader, writer = CountingReader(stores.reader), RecordingWriter(stores.writer)
            doubles.append((reader, writer))
            service = TaskService(stores.tasks, compose.blob_store(settings), settings, reader, writer)
            yield ApiParts(service, lambda: {"ready": True}, stores.queue_figures, None)

    with TestClient(create_app(settings, counted, serve_files=False)) as client:
        [(reader, writer)] = doubles
        yield Served(client, key, secret, reader, writer)


def test_a_create_looks_its_caller_up_once_and_hands_the_writer_a_complete_task(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.secret}", "X-DashScope-Async": "enable"}
    status, body = served.post(headers, GOOD_BODY)
    assert status == 200
    assert served.reader.lookups == [NO_TASK]  # one lookup, of the key alone
    [item] = served.writer.created
    assert item.task.key_id == served.key.key_id and item.task.task_id == body["output"]["task_id"]


@pytest.mark.parametrize(
    ("extra_headers", "body"),
    [
        ({"X-DashScope-Async": "enable"}, GOOD_BODY),
        ({"X-DashScope-Async": "enable"}, {"model": "wan2.7-t2v", "input": {}}),  # an invalid body
        ({"X-DashScope-Async": "enable"}, b"{not json"),
        ({}, GOOD_BODY),  # a synchronous call
        ({"X-DashScope-Async": "enable", "Idempotency-Key": "x" * 300}, GOOD_BODY),
    ],
)
def test_a_bad_key_is_one_lookup_a_401_and_nothing_written(
    served: Served, extra_headers: dict[str, str], body: object
) -> None:
    status, answer = served.post({"Authorization": "Bearer sk-not-a-key", **extra_headers}, body)
    assert (status, answer["code"]) == (401, "InvalidApiKey")
    assert served.reader.lookups == [NO_TASK] and served.writer.created == []


def test_no_key_at_all_is_a_401_without_a_lookup(served: Served) -> None:
    status, answer = served.post({"X-DashScope-Async": "enable"}, GOOD_BODY)
    assert (status, answer["code"], answer["message"]) == (401, "InvalidApiKey", "No API-key provided.")
    assert served.reader.lookups == [] and served.writer.created == []


def test_a_good_key_with_a_bad_create_is_refused_for_that_before_anything_is_written(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.secret}", "X-DashScope-Async": "enable"}
    status, answer = served.post(headers, {"model": "wan2.7-t2v", "input": {}})
    assert (status, answer["code"]) == (400, "InvalidParameter")
    assert served.reader.lookups == [NO_TASK] and served.writer.created == []
