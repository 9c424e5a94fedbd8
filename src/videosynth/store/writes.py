"""Where an API process runs its store writes (batches of creates, cancels): one thread, off the event loop.

One is enough, and measured best: SQLite writes one at a time anyway (threads racing for its lock sleep in its
busy handler), and on PostgreSQL two batches holding one key's creates wait on each other's locks while more
threads cost more GIL handovers. Running PostgreSQL batches on the event loop instead (SQLAlchemy's asyncio
engine) measured the same: a batch is ~6 round trips, each waiting a turn of a busy loop rather than the GIL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

from videosynth.store.protocols import CreateOutcome, NewTask
from videosynth.store.sql import SqlTaskStore

T = TypeVar("T")


class Writer(Protocol):
    async def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]: ...

    async def run(self, work: Callable[[], T]) -> T:
        """Any other store write (a cancel), on the writer's thread."""
        ...


class ThreadWriter:
    def __init__(self, tasks: SqlTaskStore) -> None:
        self._tasks = tasks
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videosynth-writes")

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    async def create_many(self, items: Sequence[NewTask]) -> list[CreateOutcome]:
        return await self.run(lambda: self._tasks.create_many(items))
