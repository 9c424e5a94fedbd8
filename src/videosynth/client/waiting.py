"""The state of one ``wait``: deadline, request pace, stream or polling, and what was last reported.

Pure (the clients pass the clock in), so the sync and async clients share one set of rules: a server push (the
events stream) first; polling with a growing interval where the server has no stream or refuses one; backoff after
failures, so a restarting server is reconnected to; never two requests for the task within a second.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from videosynth.client import wire
from videosynth.client.errors import ServerError, TaskFailedError, VideosynthError, WaitTimeoutError
from videosynth.client.models import Task
from videosynth.client.retry import MIN_INTERVAL_S, Backoff, Pacer

ProgressCallback = Callable[[Task], object]

MAX_POLL_INTERVAL_S = 5.0
MAX_FAILURE_WAIT_S = 5.0  # short, so a restarted server is found again soon
STREAM_READ_TIMEOUT_S = 30.0
DEFAULT_WAIT_S = 3600.0
# Failures in a row a wait rides out once it has reached the server (about a minute of outage: a restart), and
# before that (a wrong URL or a server that is down fails as fast as any request does).
MAX_FAILURES_IN_ROW = 12
# The agreed event type, and the SSE default for a stream that names none.
TASK_EVENTS = frozenset(
    {"task", "message"}
)  # a stream sends heartbeats far more often; silence this long is a dead connection


class StreamUnavailable(Exception):
    """The server has no events stream, or will not open one now: poll instead."""


class Watch:
    def __init__(
        self,
        task_id: str,
        timeout_s: float,
        now: float,
        on_progress: ProgressCallback | None,
        failures_before_contact: int = 4,
    ) -> None:
        self.task_id = task_id
        self.use_stream = True
        self.last_event_id: str | None = None
        self._deadline = now + timeout_s
        self._timeout_s = timeout_s
        self._on_progress = on_progress
        self._pacer = Pacer()
        self._failures = Backoff(MIN_INTERVAL_S, MAX_FAILURE_WAIT_S)
        self._poll_interval = MIN_INTERVAL_S
        self._pending_s = 0.0
        self._last: Task | None = None
        self._failures_in_row = 0
        self._failures_before_contact = failures_before_contact

    def check_deadline(self, now: float) -> None:
        if now >= self._deadline:
            raise WaitTimeoutError("Timeout", f"task {self.task_id} not finished after {self._timeout_s:g} s")

    def delay(self, now: float) -> float:
        """Seconds to sleep before the next request (raises WaitTimeoutError once past the deadline)."""
        self.check_deadline(now)
        wait = max(self._pacer.delay(now), self._pending_s)
        return min(wait, max(self._deadline - now, 0.0))

    def sent(self, now: float) -> None:
        self._pacer.sent(now)
        self._pending_s = 0.0

    def read_timeout(self, now: float) -> float:
        return max(0.1, min(STREAM_READ_TIMEOUT_S, self._deadline - now + 0.1))

    def report(self, task: Task) -> bool:
        """A new state seen: tell the callback when status or progress changed; returns whether they did."""
        changed = self._last is None or (task.status, task.progress) != (self._last.status, self._last.progress)
        self._last = task
        self._failures.reset()
        self._failures_in_row = 0
        if changed and self._on_progress is not None:
            self._on_progress(task)
        return changed

    def polled(self, moved: bool) -> None:
        """After a poll: poll again soon while things move, less often while they do not."""
        self._poll_interval = MIN_INTERVAL_S if moved else min(self._poll_interval * 1.5, MAX_POLL_INTERVAL_S)
        self._pending_s = self._poll_interval

    def failed(self, error: VideosynthError) -> None:
        """A request failed: wait longer before the next, or give up with ``error`` after too many in a row."""
        self._failures_in_row += 1
        limit = MAX_FAILURES_IN_ROW if self._last is not None else self._failures_before_contact
        if self._failures_in_row > limit:
            raise error
        self._pending_s = self._failures.next()

    def stream_refused(self) -> None:
        self.use_stream = False


def final(task: Task) -> Task:
    """A finished task as ``wait`` hands it out: SUCCEEDED returned, the others raised."""
    wire.known(task)
    if task.status != "SUCCEEDED":
        raise TaskFailedError(task)
    return task


def refusal(response: httpx.Response) -> Exception:
    """Why a stream did not open: a status that means "poll instead", or the error it is."""
    if response.is_success or wire.stream_unavailable(response.status_code):
        return StreamUnavailable(response.status_code)
    return wire.error_from(response)


def event_task(data: str) -> Task:
    try:
        return wire.task_from_body(json.loads(data))
    except ValueError:
        raise ServerError("InvalidResponse", "An event's data is not JSON.") from None
