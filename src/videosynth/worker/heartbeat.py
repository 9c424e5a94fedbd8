"""A background thread that renews a task's lease and publishes progress while the main thread generates."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

from videosynth.domain.progress import WorkProgress
from videosynth.store.protocols import TaskStore

# Told how each renewal went: "ok", "lost" (the lease is gone) or "error" (the store could not be reached).
BeatObserver = Callable[[str], None]


def _ignore(_result: str) -> None:
    return None


class Heartbeat:
    def __init__(
        self,
        tasks: TaskStore,
        task_id: str,
        worker_id: str,
        lease_s: float,
        interval_s: float,
        on_beat: BeatObserver = _ignore,
        min_gap_s: float = 0.2,
    ) -> None:
        self._tasks = tasks
        self._on_beat = on_beat
        self._task_id = task_id
        self._worker_id = worker_id
        self._lease_s = lease_s
        self._interval_s = interval_s
        # One write per denoising step of a fast model would be a write storm: progress goes out at most this often.
        self._min_gap_s = min_gap_s
        self._work: WorkProgress | None = None
        self._wake = threading.Event()
        self._done = threading.Event()
        self.lost = threading.Event()  # set when the store says the lease is no longer ours
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{task_id[:8]}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._done.set()
        self._wake.set()
        self._thread.join(timeout=self._interval_s + 5)

    def lose(self) -> None:
        """Another guarded write found the lease gone: stop renewing it, as a lost beat would."""
        self.lost.set()
        self._done.set()
        self._wake.set()

    def report(self, work: WorkProgress) -> None:
        """Record what the work is at; published soon (within min_gap_s), so a watcher sees each phase and step."""
        self._work = work
        self._wake.set()

    def _run(self) -> None:
        while not self._done.is_set():
            self._beat()
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self._done.wait(self._min_gap_s)

    def _beat(self) -> None:
        work = self._work
        now_ms = int(time.time() * 1000)
        try:
            alive = self._tasks.heartbeat(self._task_id, self._worker_id, now_ms, self._lease_s, work)
        except Exception:  # a transient store error must not kill the heartbeat; the lease has slack
            self._on_beat("error")
            return
        self._on_beat("ok" if alive else "lost")
        if not alive:
            self.lost.set()
            self._done.set()
