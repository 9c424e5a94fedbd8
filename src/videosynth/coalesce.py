"""Request coalescing: calls that arrive together are served by one batch (what a DataLoader does).

Used where one round trip or one transaction costs far more than the work per request: the PostgreSQL poll
lookups (one query for every poll waiting) and task creation (one transaction, one commit, one thread hop for
every create waiting). Up to ``concurrency`` batches run at once; each takes everything waiting when it
starts, so an idle service answers a lone call as a batch of one with no added delay, and a busy one grows its
batches by itself. Every answer comes from a batch that started after its call arrived: nothing is stale.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# A batch's answers, one per call in order: a value, or the exception that call (alone) raises.
RunBatch = Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]]


@dataclass
class _Waiting(Generic[In, Out]):
    item: In
    future: asyncio.Future[Out]


@dataclass
class _LoopState(Generic[In, Out]):
    loop: asyncio.AbstractEventLoop
    waiting: list[_Waiting[In, Out]] = field(default_factory=list)
    running: set[asyncio.Task[None]] = field(default_factory=set)


class Coalescer(Generic[In, Out]):
    def __init__(self, run_batch: RunBatch[In, Out], concurrency: int, max_batch: int = 256) -> None:
        if concurrency < 1 or max_batch < 1:
            raise ValueError(f"concurrency and max_batch must be at least 1, got {concurrency} and {max_batch}.")
        self._run_batch = run_batch
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._state: _LoopState[In, Out] | None = None

    def _bound(self) -> _LoopState[In, Out]:
        """Futures belong to one event loop; used from a new loop (tests), the coalescer starts afresh."""
        loop = asyncio.get_running_loop()
        if self._state is None or self._state.loop is not loop:
            self._state = _LoopState(loop)
        return self._state

    async def submit(self, item: In) -> Out:
        state = self._bound()
        waiting: _Waiting[In, Out] = _Waiting(item, state.loop.create_future())
        state.waiting.append(waiting)
        if len(state.running) < self._concurrency:
            runner = state.loop.create_task(self._drain(state))
            state.running.add(runner)  # a strong reference until it ends (asyncio keeps only weak ones)
            runner.add_done_callback(state.running.discard)
        return await waiting.future

    async def _drain(self, state: _LoopState[In, Out]) -> None:
        await asyncio.sleep(0)  # one loop turn: the calls that arrived with this one join its batch
        while state.waiting:
            batch, state.waiting = state.waiting[: self._max_batch], state.waiting[self._max_batch :]
            try:
                answers: Sequence[Out | BaseException] = await self._run_batch([one.item for one in batch])
                if len(answers) != len(batch):
                    raise RuntimeError(f"a batch of {len(batch)} calls got {len(answers)} answers")
            except Exception as exc:  # the whole batch failed: every call in it sees why
                answers = [exc] * len(batch)
            for one, answer in zip(batch, answers, strict=True):
                if one.future.done():  # its caller went away (a cancelled request)
                    continue
                if isinstance(answer, BaseException):
                    one.future.set_exception(answer)
                else:
                    one.future.set_result(answer)
