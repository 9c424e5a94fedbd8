"""Backoff, Retry-After, the per-task pace and the wait's schedule: the rules both SDK clients share."""

from __future__ import annotations

import random

import pytest

from videosynth.client import NetworkError, Progress, Task, TaskFailedError, TaskNotFoundError, WaitTimeoutError
from videosynth.client.retry import Backoff, Pacer, Retries, retry_after_s
from videosynth.client.waiting import MAX_FAILURES_IN_ROW, MAX_POLL_INTERVAL_S, STREAM_READ_TIMEOUT_S, Watch, final


def test_backoff_doubles_to_its_cap_with_jitter_never_below_the_base() -> None:
    backoff = Backoff(1.0, 8.0, rng=random.Random(3))
    waits = [backoff.next() for _ in range(6)]
    for wait, base in zip(waits, [1, 2, 4, 8, 8, 8], strict=True):
        assert base <= wait <= base * 1.5
    backoff.reset()
    assert backoff.next() <= 1.5


def test_a_longer_retry_after_wins_but_is_capped() -> None:
    backoff = Backoff(1.0, 8.0, max_retry_after_s=60.0)
    assert backoff.next(10.0) == 10.0
    assert backoff.next(3600.0) == 60.0
    assert backoff.next(0.1) >= 4.0


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s("7") == 7.0
    assert retry_after_s(" 3 ") == 3.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert retry_after_s(None) is None
    assert retry_after_s("soon") is None
    assert retry_after_s("Wed, 21 Oct 2015 07:28:10 GMT") == 0.0  # long past by the real clock


def test_retries_spend_a_budget_on_429_5xx_and_lost_connections_only() -> None:
    retries = Retries(2, Backoff(1.0, 8.0, rng=random.Random(1)))
    assert retries.delay(400) is None and retries.delay(404) is None
    first = retries.delay(503)
    assert first is not None and first >= 1.0
    assert retries.delay(None, "5") == 5.0  # no answer at all is retried too; a longer Retry-After wins
    assert retries.delay(429) is None


def test_pacer_keeps_requests_a_second_apart() -> None:
    pacer = Pacer()
    assert pacer.delay(100.0) == 0.0
    pacer.sent(100.0)
    assert pacer.delay(100.25) == 0.75
    assert pacer.delay(102.0) == 0.0


def task(status: str, phase: str = "running", percent: int | None = None) -> Task:
    return Task("t", status, Progress(phase, percent), code="InternalError" if status == "FAILED" else None)


def test_watch_reports_changes_only_and_polls_less_often_while_nothing_moves() -> None:
    seen: list[Task] = []
    watch = Watch("t", 3600.0, 0.0, seen.append)
    assert watch.delay(0.0) == 0.0
    watch.sent(0.0)
    assert watch.report(task("RUNNING")) is True
    watch.polled(True)
    assert watch.delay(0.0) == 1.0
    intervals = []
    for _ in range(8):
        watch.polled(watch.report(task("RUNNING")))
        intervals.append(watch.delay(0.0))
    assert intervals == sorted(intervals) and intervals[-1] == MAX_POLL_INTERVAL_S and len(seen) == 1
    watch.polled(watch.report(task("RUNNING", percent=40)))
    assert watch.delay(0.0) == 1.0 and len(seen) == 2
    watch.failed(NetworkError("NetworkError", "down"))
    assert watch.delay(0.0) >= 1.0
    assert watch.read_timeout(0.0) == STREAM_READ_TIMEOUT_S  # far from the deadline
    watch.stream_refused()
    assert watch.use_stream is False


def test_watch_deadline_bounds_sleeps_and_read_timeouts() -> None:
    watch = Watch("t", 2.0, 10.0, None)
    watch.report(task("PENDING"))  # no callback: nothing to call
    watch.sent(10.0)
    watch.polled(True)
    assert watch.delay(11.5) == 0.5
    assert watch.read_timeout(11.5) == pytest.approx(0.6)
    with pytest.raises(WaitTimeoutError) as late:
        watch.delay(12.0)
    assert late.value.code == "Timeout" and isinstance(late.value, TimeoutError)


def test_final_returns_success_and_raises_the_rest() -> None:
    assert final(task("SUCCEEDED")).status == "SUCCEEDED"
    with pytest.raises(TaskFailedError) as failed:
        final(task("FAILED"))
    assert failed.value.code == "InternalError"
    with pytest.raises(TaskFailedError) as canceled:
        final(task("CANCELED"))
    assert canceled.value.code == "Canceled" and "CANCELED" in canceled.value.message
    with pytest.raises(TaskNotFoundError):
        final(task("UNKNOWN"))


def test_watch_gives_up_fast_before_contact_and_rides_out_an_outage_after() -> None:
    down = NetworkError("NetworkError", "down")
    never_reached = Watch("t", 3600.0, 0.0, None, failures_before_contact=1)
    never_reached.failed(down)
    with pytest.raises(NetworkError):
        never_reached.failed(down)
    reached = Watch("t", 3600.0, 0.0, None, failures_before_contact=0)
    reached.report(task("RUNNING"))
    for _ in range(MAX_FAILURES_IN_ROW):
        reached.failed(down)
    reached.report(task("RUNNING"))  # back: the count starts again
    for _ in range(MAX_FAILURES_IN_ROW):
        reached.failed(down)
    with pytest.raises(NetworkError):
        reached.failed(down)
