"""Per-key admission of a create: the queue quota and the rate limit, as pure arithmetic on one key's usage.

The store keeps one usage value per key (its row in ``key_usage``), locks it for the create's transaction,
asks ``refusal`` about each create, applies ``after_accept`` for each one it writes, and saves the result.

The rate limit is a token bucket in GCRA form: a key may create ``max_per_minute`` tasks at once, then one
every 60 s / max_per_minute. Its whole state is the time the bucket is full again (the theoretical arrival time,
``rate_tat_ns``): each create pushes it one interval later, and a create is refused when that would put it
more than a window ahead of now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

RATE_WINDOW_NS = 60 * 1_000_000_000
_NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Admission:
    """Per-key limits a create must pass, checked in the insert's own transaction (so across API replicas)."""

    now_ms: int
    max_per_minute: int  # the key's creates per minute: a bucket of this many, refilled evenly
    max_active: int  # the key's PENDING + RUNNING tasks


@dataclass(frozen=True)
class KeyUsage:
    """What admitting one key's creates needs to know: its active tasks and its rate bucket."""

    active: int = 0  # PENDING + RUNNING tasks
    rate_tat_ns: int = 0  # when the bucket is full again, epoch nanoseconds (0: never used)


class AdmissionRefused(Exception):
    """A create over one of the Admission limits; nothing was written."""

    def __init__(self, limit: Literal["rate", "active"], count: int, cap: int) -> None:
        super().__init__(f"{limit}: {count} of {cap}")
        self.limit, self.count, self.cap = limit, count, cap


def rate_interval_ns(max_per_minute: int) -> int:
    """How long the bucket takes to refill one create."""
    return RATE_WINDOW_NS // max_per_minute


def refusal(usage: KeyUsage, admission: Admission) -> AdmissionRefused | None:
    """Why one more create of this key is refused now, or None when it is admitted. The rate is judged first:
    a create refused for either reason spends nothing, so the order only decides which reason is reported."""
    now_ns = admission.now_ms * _NS_PER_MS
    ahead_ns = max(usage.rate_tat_ns, now_ns) - now_ns
    if ahead_ns > RATE_WINDOW_NS - rate_interval_ns(admission.max_per_minute):
        return AdmissionRefused("rate", admission.max_per_minute, admission.max_per_minute)
    if usage.active >= admission.max_active:
        return AdmissionRefused("active", usage.active, admission.max_active)
    return None


def after_accept(usage: KeyUsage, admission: Admission | None) -> KeyUsage:
    """The usage once a create is written: one more active task, and (when limits apply) one interval of the
    bucket spent. A create without limits still counts as active, so the quota stays true for later creates."""
    if admission is None:
        return KeyUsage(usage.active + 1, usage.rate_tat_ns)
    now_ns = admission.now_ms * _NS_PER_MS
    tat_ns = max(usage.rate_tat_ns, now_ns) + rate_interval_ns(admission.max_per_minute)
    return KeyUsage(usage.active + 1, tat_ns)
