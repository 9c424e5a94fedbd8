"""The API process's writer (store/writes.py): every write on its one thread, on both databases; creates that
arrive together in one transaction; a refusal is its own caller's answer."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine
from tests.support.tasks import T0, make_task

from videosynth.domain.admission import Admission, AdmissionRefused
from videosynth.domain.task import Task
from videosynth.store import migrate
from videosynth.store.engine import make_engine
from videosynth.store.protocols import CreateOutcome, NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.writes import ThreadWriter


class Recording(SqlTaskStore):
    """The real store, noting each create batch's size and the thread it ran on."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.batches: list[tuple[int, str]] = []

    def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        self.batches.append((len(items), threading.current_thread().name))
        return super().create_many(items)


def writer_threads() -> int:
    return sum(thread.name.startswith("videosynth-writes") for thread in threading.enumerate())


def test_creates_that_arrive_together_share_one_transaction_on_the_writer_thread(engine: Engine) -> None:
    store = Recording(engine)

    async def scenario() -> list[CreateOutcome]:
        writer = ThreadWriter(store)
        try:
            return list(await asyncio.gather(*(writer.create(NewTask(make_task(key_id="k"))) for _ in range(20))))
        finally:
            writer.close()

    outcomes = asyncio.run(scenario())
    assert all(isinstance(outcome, Task) for outcome in outcomes) and store.count_active("k") == 20
    assert sum(size for size, _thread in store.batches) == 20 and len(store.batches) <= 2
    assert {thread for _size, thread in store.batches} == {"videosynth-writes_0"}


def test_a_refused_create_is_its_own_callers_outcome(engine: Engine) -> None:
    store = SqlTaskStore(engine)
    one_at_a_time = Admission(T0, max_per_minute=100, max_active=1)

    async def scenario() -> list[CreateOutcome]:
        writer = ThreadWriter(store)
        try:
            items = [NewTask(make_task(key_id="k"), admission=one_at_a_time) for _ in range(2)]
            return list(await asyncio.gather(*(writer.create(item) for item in items)))
        finally:
            writer.close()

    first, second = asyncio.run(scenario())
    assert isinstance(first, Task) and isinstance(second, AdmissionRefused) and second.limit == "active"


def test_a_create_waiting_for_sqlites_lock_leaves_the_event_loop_free(tmp_path: Path) -> None:
    """A worker's transaction holds the write lock: the create waits for it on the writer thread while the loop
    goes on answering (polls, while a video renders)."""
    url = f"sqlite:///{tmp_path / 'videosynth.db'}"
    migrate.upgrade(url)
    store = SqlTaskStore(make_engine(url))
    before = writer_threads()

    async def scenario() -> tuple[float, int]:
        writer = ThreadWriter(store)
        holder = sqlite3.connect(tmp_path / "videosynth.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # what a worker's transaction does
        asyncio.get_running_loop().call_later(0.3, holder.rollback)
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        started = time.monotonic()
        try:
            made = await writer.create(NewTask(make_task(key_id="locked")))
            assert isinstance(made, Task) and store.get(made.task_id) is not None
            return time.monotonic() - started, ticks
        finally:
            ticker.cancel()
            holder.close()
            writer.close()

    waited, ticks = asyncio.run(scenario())
    assert waited >= 0.25 and ticks >= 10  # the loop turned all the while the create waited
    assert writer_threads() == before  # closed: its thread is gone
