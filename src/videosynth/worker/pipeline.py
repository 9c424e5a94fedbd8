"""Two stages in step: the caller's thread denoises one task while one finisher thread does the CPU work of the
task before (fit, watermark, encode, sign, upload, images, finish), so the model does not wait for the encoder.

At most one task is finishing while one generates: handing over the next waits for the finisher to be free
(back-pressure, and at most two tasks' frames in memory). A finisher's unexpected failure is raised in the caller's
thread at the next hand-over or at close, as it would be when the two stages ran in one thread.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class Pipeline(Generic[T]):
    def __init__(self, finish: Callable[[T], None]) -> None:
        self._finish = finish
        self._finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="finisher")
        self._pending: Future[None] | None = None

    def __enter__(self) -> Pipeline[T]:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def hand_over(self, item: T) -> None:
        """Finish ``item`` on the finisher thread, once the one before it is finished."""
        self.wait()
        self._pending = self._finisher.submit(self._finish, item)

    def wait(self) -> None:
        """Until the task being finished (if any) is finished; re-raises what the finisher could not handle."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Drain: the task being finished is finished, then the finisher thread ends."""
        try:
            self.wait()
        finally:
            self._finisher.shutdown(wait=True)
