"""Where an API process runs its store writes (creates, cancels): one writer thread, off the event loop, on
both databases.

One thread is enough, and measured best: SQLite writes one at a time anyway (threads racing for its lock sleep
in its busy handler), and on PostgreSQL two batches holding one key's creates wait on each other's locks while
more threads cost more GIL handovers. No write runs on the event loop: a commit there (an fsync, or a wait for
the lock a worker holds) would stall every poll meanwhile, and polls go on all the while a video renders.

Creates that arrive together are written as one batch (store/coalesce.py): one transaction, one commit, one thread
hop for all of them, one batch at a time (more batches in flight measured no faster on either database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from videosynth.store.coalesce import Coalescer
from videosynth.store.protocols import CreateOutcome, NewTask, TaskStore

T = TypeVar("T")


@dataclass(frozen=True)
class _Outcome:
    """One create's outcome as a value: the coalescer raises an exception answer (a refusal) in its caller."""

    value: CreateOutcome


class ThreadWriter:
    """The Writer of an API process (store/protocols.py). Its creates must all come from one event loop."""

    def __init__(self, tasks: TaskStore, max_batch: int = 256) -> None:
        self._tasks = tasks
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="videosynth-writes")
        self._creates: Coalescer[NewTask, _Outcome] = Coalescer(self._create_batch, 1, max_batch)

    async def create(self, item: NewTask) -> CreateOutcome:
        outcome = await self._creates.submit(item)
        return outcome.value

    async def _create_batch(self, items: Sequence[NewTask]) -> list[_Outcome]:
        outcomes = await self.run(lambda: self._tasks.create_many(items))
        return [_Outcome(outcome) for outcome in outcomes]

    async def run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, work)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
