"""Request coalescing: calls that arrive together are served by one batch (what a DataLoader does).

Used where one round trip or one transaction costs far more than the work per request: the PostgreSQL poll
lookups (one query for every poll waiting) and task creation (one transaction, one commit, one thread hop for
every create waiting). Up to ``concurrency`` batches run at once; each takes everything waiting when it
starts, so an idle service answers a lone call as a batch of one with no added delay, and a busy one grows its
batches by itself. Every answer comes from a batch that started after its call arrived: nothing is stale.

A coalescer is used from one event loop at a time (the app's, opened in its lifespan).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# A batch's answers, one per call in order: a value, or the exception that call (alone) raises.
RunBatch = Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]]


@dataclass
class _Waiting(Generic[In, Out]):
    item: In
    future: asyncio.Future[Out]


class Coalescer(Generic[In, Out]):
    def __init__(self, run_batch: RunBatch[In, Out], concurrency: int, max_batch: int = 256) -> None:
        if concurrency < 1 or max_batch < 1:
            raise ValueError(f"concurrency and max_batch must be at least 1, got {concurrency} and {max_batch}.")
        self._run_batch = run_batch
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._waiting: list[_Waiting[In, Out]] = []
        # Drains running. Counted in the drain itself, not in a done-callback: a callback runs a loop turn after
        # the drain saw an empty queue, and a call submitted in that turn would start no drain and wait forever.
        self._draining = 0
        self._drains: set[asyncio.Task[None]] = set()  # strong references (asyncio keeps only weak ones)

    async def submit(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        waiting: _Waiting[In, Out] = _Waiting(item, loop.create_future())
        self._waiting.append(waiting)
        if self._draining < self._concurrency:
            self._draining += 1
            drain = loop.create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await waiting.future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # one loop turn: the calls that arrived with this one join its batch
            while self._waiting:
                batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
                await self._serve(batch)
        except BaseException:
            if self._draining == 1:  # no other drain will take the calls still queued: they must not hang
                batch, self._waiting = self._waiting, []
                _cancel(batch)
            raise
        finally:
            # No await between the last look at the queue and here: a later submit sees this drain gone.
            self._draining -= 1

    async def _serve(self, batch: list[_Waiting[In, Out]]) -> None:
        try:
            answers: Sequence[Out | BaseException] = await self._run_batch([one.item for one in batch])
            if len(answers) != len(batch):
                raise RuntimeError(f"a batch of {len(batch)} calls got {len(answers)} answers")
        except Exception as exc:  # the whole batch failed: every call in it sees why
            answers = [exc] * len(batch)
        except BaseException:  # cancelled under it: its callers are cancelled, never left waiting
            _cancel(batch)
            raise
        for one, answer in zip(batch, answers, strict=True):
            if one.future.done():  # its caller went away (a cancelled request)
                continue
            if isinstance(answer, BaseException):
                one.future.set_exception(answer)
            else:
                one.future.set_result(answer)


def _cancel(batch: list[_Waiting[In, Out]]) -> None:
    for one in batch:
        one.future.cancel()
