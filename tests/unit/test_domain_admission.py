"""admission.py: the per-key queue quota and the GCRA rate bucket, as pure arithmetic on one key's usage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.support.tasks import T0

from videosynth.domain.admission import (
    RATE_WINDOW_NS,
    Admission,
    AdmissionRefused,
    KeyUsage,
    after_accept,
    rate_interval_ns,
    refusal,
)

MS = 1_000_000  # nanoseconds


def admit(usage: KeyUsage, admission: Admission) -> tuple[KeyUsage, AdmissionRefused | None]:
    """What the store does per create: ask, and spend only when admitted."""
    refused = refusal(usage, admission)
    return (usage, refused) if refused is not None else (after_accept(usage, admission), None)


def test_a_new_key_has_nothing_active_and_a_full_bucket() -> None:
    assert KeyUsage() == KeyUsage(active=0, rate_tat_ns=0)
    assert refusal(KeyUsage(), Admission(T0, 1, 1)) is None


def test_the_interval_is_a_minute_shared_evenly() -> None:
    assert rate_interval_ns(1) == RATE_WINDOW_NS == 60_000 * MS
    assert rate_interval_ns(3) == 20_000 * MS
    assert rate_interval_ns(7) == RATE_WINDOW_NS // 7  # whole nanoseconds, rounded down


def test_a_full_bucket_admits_a_minutes_worth_at_once_then_refuses() -> None:
    usage, limits = KeyUsage(), Admission(T0, 3, 100)
    for made in range(3):
        usage, refused = admit(usage, limits)
        assert refused is None and usage.active == made + 1
    refused = refusal(usage, limits)
    assert refused is not None
    assert (refused.limit, refused.count, refused.cap) == ("rate", 3, 3)
    assert str(refused) == "rate: 3 of 3"


def test_the_bucket_refills_one_create_per_interval() -> None:
    usage = KeyUsage()
    for _ in range(3):
        usage, _refused = admit(usage, Admission(T0, 3, 100))
    assert refusal(usage, Admission(T0 + 19_999, 3, 100)) is not None  # one millisecond early
    usage, refused = admit(usage, Admission(T0 + 20_000, 3, 100))
    assert refused is None
    assert refusal(usage, Admission(T0 + 39_999, 3, 100)) is not None
    assert refusal(usage, Admission(T0 + 40_000, 3, 100)) is None


def test_an_idle_bucket_holds_no_more_than_a_minutes_worth() -> None:
    usage = after_accept(KeyUsage(), Admission(T0, 3, 100))
    later = Admission(T0 + 10 * 60_000, 3, 100)  # idle for ten minutes
    for _ in range(3):
        usage, refused = admit(usage, later)
        assert refused is None
    assert refusal(usage, later) is not None


def test_accepting_pushes_the_full_time_one_interval_past_now_or_past_itself() -> None:
    limits = Admission(T0, 4, 100)
    fresh = after_accept(KeyUsage(active=2, rate_tat_ns=0), limits)  # long idle: counted from now
    assert fresh == KeyUsage(active=3, rate_tat_ns=T0 * MS + 15_000 * MS)
    busy = after_accept(fresh, limits)  # already ahead of now: counted from where it was
    assert busy == KeyUsage(active=4, rate_tat_ns=T0 * MS + 30_000 * MS)


def test_a_create_without_limits_counts_as_active_and_spends_no_rate() -> None:
    usage = KeyUsage(active=5, rate_tat_ns=123)
    assert after_accept(usage, None) == KeyUsage(active=6, rate_tat_ns=123)


@pytest.mark.parametrize(("active", "refused"), [(0, False), (1, False), (2, True), (3, True)])
def test_the_quota_caps_active_tasks(active: int, refused: bool) -> None:
    outcome = refusal(KeyUsage(active=active), Admission(T0, 100, 2))
    if not refused:
        assert outcome is None
        return
    assert outcome is not None
    assert (outcome.limit, outcome.count, outcome.cap) == ("active", active, 2)


def test_the_rate_is_judged_before_the_quota() -> None:
    usage = KeyUsage(active=9, rate_tat_ns=(T0 + 60_000) * MS)  # over both
    refused = refusal(usage, Admission(T0, 1, 9))
    assert refused is not None and refused.limit == "rate"


def test_usage_is_an_immutable_value() -> None:
    usage = KeyUsage(active=1)
    with pytest.raises(AttributeError):
        usage.active = 2  # type: ignore[misc]
    assert after_accept(usage, None) is not usage and usage.active == 1


@given(
    per_minute=st.integers(min_value=1, max_value=50),
    gaps_ms=st.lists(st.integers(min_value=0, max_value=30_000), min_size=1, max_size=200),
)
def test_no_span_admits_more_than_a_window_and_the_span_can_refill(per_minute: int, gaps_ms: list[int]) -> None:
    """Whatever the arrival times, the creates admitted from t to t + span number at most (span + 60 s) / interval:
    each one pushes the full time an interval on, and none is admitted with it more than a window ahead."""
    usage, now, admitted = KeyUsage(), T0, []
    for gap in gaps_ms:
        now += gap
        usage, refused = admit(usage, Admission(now, per_minute, 10**9))
        if refused is None:
            admitted.append(now)
    interval_ns = rate_interval_ns(per_minute)
    for first in range(len(admitted)):
        for last in range(first, len(admitted)):
            span_ns = (admitted[last] - admitted[first]) * MS
            assert last - first + 1 <= (span_ns + RATE_WINDOW_NS) // interval_ns


@given(per_minute=st.integers(min_value=1, max_value=50), start_ms=st.integers(min_value=0, max_value=T0))
def test_a_fresh_key_gets_exactly_its_bucket_at_once(per_minute: int, start_ms: int) -> None:
    usage, made = KeyUsage(), 0
    while refusal(usage, Admission(start_ms, per_minute, 10**9)) is None:
        usage = after_accept(usage, Admission(start_ms, per_minute, 10**9))
        made += 1
    assert made == per_minute
