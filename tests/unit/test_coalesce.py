"""Coalescer: calls that arrive together share a batch; each gets its own answer or its own error."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from videosynth.store.coalesce import Coalescer


class Recorder:
    """A batch function that records its batches and doubles numbers; negative numbers fail alone."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.running = 0
        self.most_running = 0
        self.delay_s = delay_s

    async def __call__(self, items: list[int]) -> Sequence[int | BaseException]:
        self.batches.append(items)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await asyncio.sleep(self.delay_s)
            return [ValueError(f"bad {n}") if n < 0 else 2 * n for n in items]
        finally:
            self.running -= 1


def test_calls_arriving_together_share_one_batch_and_keep_their_order() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder, concurrency=1)

    async def run() -> list[int]:
        return list(await asyncio.gather(*(coalescer.submit(n) for n in range(10))))

    assert asyncio.run(run()) == [2 * n for n in range(10)]
    assert recorder.batches == [list(range(10))]


def test_a_lone_call_is_a_batch_of_one() -> None:
    recorder = Recorder()
    coalescer = Coalescer(recorder, concurrency=2)

    async def run() -> list[int]:
        return [await coalescer.submit(n) for n in range(3)]

    assert asyncio.run(run()) == [0, 2, 4]
    assert recorder.batches == [[0], [1], [2]]


def test_batches_respect_the_concurrency_and_size_bounds() -> None:
    recorder = Recorder(delay_s=0.01)
    coalescer = Coalescer(recorder, concurrency=2, max_batch=4)

    async def run() -> list[int]:
        first = [asyncio.ensure_future(coalescer.submit(n)) for n in range(3)]
        await asyncio.sleep(0.002)  # the first batches are running; these wait for the next ones
        later = [asyncio.ensure_future(coalescer.submit(n)) for n in range(3, 20)]
        return list(await asyncio.gather(*first, *later))

    assert asyncio.run(run()) == [2 * n for n in range(20)]
    assert recorder.most_running <= 2
    assert all(len(batch) <= 4 for batch in recorder.batches)
    assert sorted(n for batch in recorder.batches for n in batch) == list(range(20))  # each exactly once


def test_an_error_answer_fails_only_its_own_call() -> None:
    coalescer = Coalescer(Recorder(), concurrency=1)

    async def run() -> list[int | BaseException]:
        return list(await asyncio.gather(*(coalescer.submit(n) for n in (1, -1, 2)), return_exceptions=True))

    first, failed, last = asyncio.run(run())
    assert (first, last) == (2, 4)
    assert isinstance(failed, ValueError) and str(failed) == "bad -1"


def test_a_failed_batch_fails_every_call_in_it_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    async def flaky(items: list[int]) -> Sequence[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return items

    coalescer = Coalescer(flaky, concurrency=1)

    async def run() -> tuple[list[int | BaseException], int]:
        failed = list(await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True))
        return failed, await coalescer.submit(7)

    failed, after = asyncio.run(run())
    assert all(isinstance(result, ConnectionError) for result in failed)
    assert after == 7


def test_a_wrong_number_of_answers_is_an_error_not_a_mismatch() -> None:
    async def short(items: list[int]) -> Sequence[int | BaseException]:
        return items[:-1]

    coalescer = Coalescer(short, concurrency=1)

    async def run() -> list[int | BaseException]:
        return list(await asyncio.gather(*(coalescer.submit(n) for n in range(3)), return_exceptions=True))

    assert all(isinstance(result, RuntimeError) for result in asyncio.run(run()))


def test_a_cancelled_caller_does_not_break_the_batch() -> None:
    recorder = Recorder(delay_s=0.01)
    coalescer = Coalescer(recorder, concurrency=1)

    async def run() -> int:
        gone = asyncio.ensure_future(coalescer.submit(1))
        kept = asyncio.ensure_future(coalescer.submit(2))
        await asyncio.sleep(0.001)
        gone.cancel()
        return await kept

    assert asyncio.run(run()) == 4


def test_a_call_made_as_soon_as_the_last_batch_answered_is_served() -> None:
    """The lost wakeup: a caller that submits again the moment its answer arrives (a client's next request)
    runs before the finished batch's task is done; that call must start a batch, not wait for another call."""
    recorder = Recorder()
    coalescer = Coalescer(recorder, concurrency=1)

    async def back_to_back() -> list[int]:
        return [await coalescer.submit(n) for n in range(5)]  # awaited here, not in a task of its own

    async def run() -> list[int]:
        return await asyncio.wait_for(back_to_back(), timeout=2.0)

    assert asyncio.run(run()) == [0, 2, 4, 6, 8]
    assert recorder.batches == [[0], [1], [2], [3], [4]]


def test_a_cancelled_batch_cancels_its_callers_and_frees_its_slot() -> None:
    calls: list[list[int]] = []

    async def cancelled_once(items: list[int]) -> Sequence[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise asyncio.CancelledError()  # e.g. its query was cancelled under it
        return items

    coalescer = Coalescer(cancelled_once, concurrency=1, max_batch=1)

    async def run() -> tuple[list[str], int]:
        first = [asyncio.ensure_future(coalescer.submit(n)) for n in (1, 2)]
        _done, pending = await asyncio.wait(first, timeout=2.0)
        assert not pending, "callers of a cancelled batch were left waiting"
        outcomes = ["cancelled" if one.cancelled() else "answered" for one in first]
        return outcomes, await asyncio.wait_for(coalescer.submit(3), timeout=2.0)

    outcomes, after = asyncio.run(run())
    assert outcomes == ["cancelled", "cancelled"]  # its batch, and the call queued behind it with no batch left
    assert after == 3


def test_a_coalescer_works_again_on_a_new_event_loop() -> None:
    coalescer = Coalescer(Recorder(), concurrency=1)
    assert asyncio.run(coalescer.submit(1)) == 2
    assert asyncio.run(coalescer.submit(2)) == 4  # state of the old, closed loop is not reused


def test_bounds_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Coalescer(Recorder(), concurrency=0)
