"""When to try again: exponential backoff with jitter that honours Retry-After, and the per-task request pace."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

# The SDK never sends more than one request per second for one task, retries included.
MIN_INTERVAL_S = 1.0


class Backoff:
    """Waits of initial, ×2 each time up to a cap, plus up to half again of jitter (never less than the base, so
    retries stay at least ``initial`` apart); a longer Retry-After wins, itself capped at ``max_retry_after_s``."""

    def __init__(
        self,
        initial_s: float = MIN_INTERVAL_S,
        max_s: float = 30.0,
        max_retry_after_s: float = 120.0,
        rng: random.Random | None = None,
    ) -> None:
        self._initial, self._max, self._max_retry_after = initial_s, max_s, max_retry_after_s
        self._rng = rng or random.Random()
        self._n = 0

    def next(self, retry_after_s: float | None = None) -> float:
        base = min(self._max, self._initial * 2**self._n)
        self._n += 1
        wait = base + self._rng.uniform(0.0, base / 2)  # clients that failed together drift apart
        return float(max(wait, min(retry_after_s or 0.0, self._max_retry_after)))

    def reset(self) -> None:
        self._n = 0


def retry_after_s(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


class Pacer:
    """Spaces one task's requests at least ``interval_s`` apart (start to start)."""

    def __init__(self, interval_s: float = MIN_INTERVAL_S) -> None:
        self._interval = interval_s
        self._last: float | None = None

    def delay(self, now: float) -> float:
        """How long to sleep before the next request."""
        return 0.0 if self._last is None else max(0.0, self._last + self._interval - now)

    def sent(self, now: float) -> None:
        self._last = now


class Retries:
    """A request's retry budget: 429, 5xx and broken connections are retried ``count`` times with backoff."""

    def __init__(self, count: int, backoff: Backoff | None = None) -> None:
        self._left = count
        self._backoff = backoff or Backoff()

    def delay(self, status: int | None, retry_after: str | None = None) -> float | None:
        """Seconds to wait before trying again after a failure (``status`` None: no answer), or None: give up."""
        if self._left <= 0 or (status is not None and status != 429 and status < 500):
            return None
        self._left -= 1
        return self._backoff.next(retry_after_s(retry_after))
