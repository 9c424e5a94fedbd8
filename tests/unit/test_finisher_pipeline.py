"""Pipeline: items are finished in order on one finisher thread, and what the finisher cannot handle comes back."""

from __future__ import annotations

import threading

import pytest

from videosynth.worker.pipeline import Pipeline


def test_items_are_finished_in_order_on_the_finisher_thread() -> None:
    finished: list[tuple[int, str]] = []
    with Pipeline[int](lambda n: finished.append((n, threading.current_thread().name))) as pipeline:
        for n in range(3):
            pipeline.hand_over(n)
    assert [n for n, _ in finished] == [0, 1, 2]
    assert {name for _, name in finished} != {threading.current_thread().name}


def test_a_finisher_failure_is_raised_at_the_next_hand_over() -> None:
    def finish(n: int) -> None:
        if n == 0:
            raise RuntimeError("store unreachable")

    pipeline = Pipeline[int](finish)
    pipeline.hand_over(0)
    with pytest.raises(RuntimeError, match="store unreachable"):
        pipeline.hand_over(1)
    pipeline.close()  # the second was never handed over: nothing left to raise


def test_a_finisher_failure_is_raised_at_close() -> None:
    pipeline = Pipeline[int](lambda _n: (_ for _ in ()).throw(RuntimeError("disk full")))
    pipeline.hand_over(0)
    with pytest.raises(RuntimeError, match="disk full"):
        pipeline.close()
