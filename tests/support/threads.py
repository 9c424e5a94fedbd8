"""Racing threads, for tests of concurrent writers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

R = TypeVar("R")


def run_together(count: int, work: Callable[[int], R]) -> list[R]:
    """Run work(0..count-1) on threads released at the same instant; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: dict[int, R] = {}
    errors: list[BaseException] = []

    def runner(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return [results[i] for i in range(count)]
