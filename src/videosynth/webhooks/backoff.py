"""When to try a failed webhook delivery again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from collections.abc import Callable

Jitter = Callable[[], float]  # a uniform draw in [0, 1)


def retry_delay_s(attempts: int, base_s: float, cap_s: float, jitter: Jitter = random.random) -> float:
    """The wait after the ``attempts``-th failed attempt: base·2^(attempts-1), capped, then scaled into
    [½, 1) of that at random, so receivers that come back are not hit by every sender at once."""
    exponent = min(max(attempts - 1, 0), 32)  # bounded: 2**32·base is past any cap
    ceiling = min(cap_s, base_s * 2.0**exponent)
    return ceiling * (0.5 + jitter() / 2)
