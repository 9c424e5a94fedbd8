"""Where an API process runs its store writes (batches of creates, cancels): one writer thread, off the event
loop, and on SQLite create batches right on the loop whenever that cannot wait for a lock.

One thread is enough, and measured best: SQLite writes one at a time anyway (threads racing for its lock sleep
in its busy handler), and on PostgreSQL two batches holding one key's creates wait on each other's locks while
more threads cost more GIL handovers (a second thread measured no faster). PostgreSQL batches stay off the loop:
each is a few network round trips, which must not stall every other request.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from sqlalchemy.exc import OperationalError

from videosynth.store.protocols import CreateOutcome, NewTask
from videosynth.store.queue import SqlTaskStore

T = TypeVar("T")


class Writer(Protocol):
    async def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]: ...

    async def run(self, work: Callable[[], T]) -> T:
        """Any other store write (a cancel), on the writer's thread."""
        ...


class SqliteLoopFirstWriter:
    """SQLite: each create batch is written right on the event loop when the write lock is free, else (another
    process, a worker, holds it) on the writer thread, which may wait for it.

    On the thread, a batch of ~25 creates took 10-16 ms for ~3 ms of work under load: the thread waited for the
    GIL to start and again after every SQLite call, while the busy event loop held it (the API answers many
    creates per batch meanwhile, but each of them waits for the batch). On the loop it takes the 3 ms and no
    turn of anybody's. Nothing here waits for a lock on the loop: its connections fail at once when the lock is
    taken (busy_timeout 0), and that attempt wrote nothing (BEGIN IMMEDIATE takes the lock first)."""

    def __init__(self, on_loop: SqlTaskStore, thread: ThreadWriter) -> None:
        self._on_loop = on_loop
        self._thread = thread

    async def run(self, work: Callable[[], T]) -> T:
        return await self._thread.run(work)

    async def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        try:
            return self._on_loop.create_many(items)
        except OperationalError as exc:
            if getattr(exc.orig, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY:
                raise
        return await self._thread.create_many(items)


class ThreadWriter:
    def __init__(self, tasks: SqlTaskStore) -> None:
        self._tasks = tasks
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videosynth-writes")

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        return await self.run(lambda: self._tasks.create_many(items))
