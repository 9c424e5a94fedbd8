"""SQLite create batches: written on the event loop while the write lock is free, on the writer thread when
another connection (a worker process) holds it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from tests.support.tasks import make_task

from videosynth.domain.task import Task
from videosynth.store import migrate
from videosynth.store.engine import make_engine
from videosynth.store.protocols import NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.writes import SqliteLoopFirstWriter, ThreadWriter


def writer_threads() -> int:
    return sum(thread.name.startswith("videosynth-writes") for thread in threading.enumerate())


def test_a_batch_goes_to_the_thread_only_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'videosynth.db'}"
    migrate.upgrade(url)
    store = SqlTaskStore(make_engine(url))
    writer = SqliteLoopFirstWriter(SqlTaskStore(make_engine(url, sqlite_lock_wait_ms=0)), ThreadWriter(store))
    before = writer_threads()

    async def create(key: str) -> Task:
        [outcome] = await writer.create_many([NewTask(make_task(key_id=key))])
        assert isinstance(outcome, Task)
        return outcome

    async def scenario() -> float:
        await create("free")  # the lock is free: written on the loop, no thread started
        assert writer_threads() == before
        holder = sqlite3.connect(tmp_path / "videosynth.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # what a worker's transaction does
        asyncio.get_running_loop().call_later(0.3, holder.rollback)
        started = time.monotonic()
        made = await create("locked")  # the loop's attempt fails at once; the thread waits for the lock
        assert store.get(made.task_id) is not None
        holder.close()
        return time.monotonic() - started

    waited = asyncio.run(scenario())
    assert waited >= 0.25 and writer_threads() == before + 1
    assert store.count_active("free") == 1 and store.count_active("locked") == 1
