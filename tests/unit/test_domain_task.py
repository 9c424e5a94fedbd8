"""task.py: the status machine and the pure renderings of a task (api-contract.md §1.7, §1.8, §2)."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pytest

from videosynth.domain.catalog import PUBLIC_MODELS, UsageStyle
from videosynth.domain.draft import UNSET, ExactSize, GenerationDraft, SizeByModel, TierRatio
from videosynth.domain.request import GenerationRequest
from videosynth.domain.task import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    TRANSITIONS,
    Task,
    TaskStatus,
    can_transition,
    format_time,
    frees_a_slot,
    relay_status,
    usage_for,
)
from videosynth.domain.validate import validate_draft

S = TaskStatus
ALLOWED = {
    (S.PENDING, S.RUNNING),  # claimed by a worker
    (S.PENDING, S.CANCELED),  # only PENDING tasks can be canceled (§1.8)
    (S.PENDING, S.FAILED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.PENDING),  # requeued after a lost lease
    (S.RUNNING, S.CANCELED),  # by its relay worker: the upstream canceled the task it was forwarded
}
ALL_PAIRS = list(itertools.product(TaskStatus, TaskStatus))


def _shanghai() -> ZoneInfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the machine's tz database
        pytest.skip("no tz database for Asia/Shanghai")


# ---------------------------------------------------------------------------------------- status machine


def test_statuses_are_the_dashscope_ones() -> None:
    assert [s.value for s in TaskStatus] == [
        "PENDING",
        "RUNNING",
        "SUCCEEDED",
        "FAILED",
        "CANCELED",
        "UNKNOWN",
    ]
    assert TaskStatus("SUCCEEDED") is S.SUCCEEDED
    assert S.RUNNING == "RUNNING"


def test_transition_table_is_exactly_the_allowed_set() -> None:
    assert set(TRANSITIONS) == set(TaskStatus)
    table = {(src, dst) for src, targets in TRANSITIONS.items() for dst in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a.value}->{b.value}" for a, b in ALL_PAIRS])
def test_can_transition_every_pair(current: TaskStatus, target: TaskStatus) -> None:
    assert can_transition(current, target) is ((current, target) in ALLOWED)


@pytest.mark.parametrize("status", list(TaskStatus))
def test_no_status_transitions_to_itself(status: TaskStatus) -> None:
    assert not can_transition(status, status)


@pytest.mark.parametrize("status", list(TaskStatus))
def test_final_statuses_have_no_way_out(status: TaskStatus) -> None:
    if status.is_final:
        assert TRANSITIONS[status] == frozenset()
        assert not any(can_transition(status, target) for target in TaskStatus)


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (S.PENDING, False),
        (S.RUNNING, False),
        (S.SUCCEEDED, True),
        (S.FAILED, True),
        (S.CANCELED, True),
        (S.UNKNOWN, False),
    ],
)
def test_is_final(status: TaskStatus, final: bool) -> None:
    assert status.is_final is final
    assert (status in FINAL_STATUSES) is final


@pytest.mark.parametrize(
    ("status", "active"),
    [
        (S.PENDING, True),
        (S.RUNNING, True),
        (S.SUCCEEDED, False),
        (S.FAILED, False),
        (S.CANCELED, False),
        (S.UNKNOWN, False),
    ],
)
def test_is_active(status: TaskStatus, active: bool) -> None:
    assert status.is_active is active
    assert (status in ACTIVE_STATUSES) is active


def test_exactly_the_transitions_into_a_final_status_free_a_slot() -> None:
    freeing = {(src, dst) for src, dst in ALLOWED if frees_a_slot(src, dst)}
    assert freeing == {
        (S.PENDING, S.CANCELED),
        (S.PENDING, S.FAILED),
        (S.RUNNING, S.SUCCEEDED),
        (S.RUNNING, S.FAILED),
        (S.RUNNING, S.CANCELED),
    }
    assert not frees_a_slot(S.RUNNING, S.PENDING) and not frees_a_slot(S.PENDING, S.RUNNING)
    assert not frees_a_slot(S.SUCCEEDED, S.FAILED)  # never active: nothing to free


def test_nothing_enters_unknown_or_leaves_it() -> None:
    assert not any(can_transition(src, S.UNKNOWN) for src in TaskStatus)
    assert TRANSITIONS[S.UNKNOWN] == frozenset()


# ------------------------------------------------------------------------------------------- format_time

FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")


def _epoch_ms(utc: str, ms: int = 0) -> int:
    """``utc`` as "YYYY-MM-DD HH:MM:SS" in UTC → epoch milliseconds, plus ``ms``."""
    moment = datetime.strptime(utc, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + ms


def test_format_time_utc_default() -> None:
    assert format_time(_epoch_ms("2025-09-29 14:18:52", 331)) == "2025-09-29 14:18:52.331"


def test_format_time_epoch_zero() -> None:
    assert format_time(0) == "1970-01-01 00:00:00.000"


@pytest.mark.parametrize(("ms", "text"), [(0, "000"), (5, "005"), (50, "050"), (7, "007"), (99, "099"), (999, "999")])
def test_format_time_pads_milliseconds(ms: int, text: str) -> None:
    assert format_time(_epoch_ms("2026-01-02 03:04:05", ms)) == f"2026-01-02 03:04:05.{text}"


def test_format_time_every_millisecond_of_a_second() -> None:
    # Float division must never round the seconds: the whole second keeps its seconds field.
    for base in (_epoch_ms("2025-09-29 14:18:59", 0), _epoch_ms("2099-12-31 23:59:59", 0)):
        expected_prefix = format_time(base)[:-4]  # type: ignore[index]
        for ms in range(1000):
            text = format_time(base + ms)
            assert text is not None and FORMAT.match(text)
            assert text == f"{expected_prefix}.{ms:03d}"


def test_format_time_in_asia_shanghai() -> None:
    zone = _shanghai()
    epoch = _epoch_ms("2025-09-29 06:18:52", 331)
    assert format_time(epoch, zone) == "2025-09-29 14:18:52.331"
    # Crossing midnight moves the date, not only the hour.
    assert format_time(_epoch_ms("2025-12-31 16:00:00", 7), zone) == "2026-01-01 00:00:00.007"


def test_format_time_fixed_offset_zone() -> None:
    minus = timezone(timedelta(hours=-5, minutes=-30))
    assert format_time(_epoch_ms("2025-01-01 00:00:00", 1), minus) == "2024-12-31 18:30:00.001"


def test_format_time_none() -> None:
    assert format_time(None) is None
    assert format_time(None, _shanghai()) is None


# --------------------------------------------------------------------------------------------- usage_for


def _request(
    model: str,
    resolution: object = UNSET,
    ratio: object = UNSET,
    size: object = UNSET,
    duration: object = UNSET,
) -> GenerationRequest:
    choice = SizeByModel(TierRatio(resolution, ratio), ExactSize(size))
    first_frame = "https://example.com/a.png" if PUBLIC_MODELS[model].takes_images else UNSET
    draft = GenerationDraft(model=model, prompt="p", size=choice, duration=duration, first_frame=first_frame)
    return validate_draft(draft)


@pytest.mark.parametrize(("resolution", "sr"), [("720P", 720), ("1080P", 1080)])
@pytest.mark.parametrize("duration", [2, 5, 15])
def test_usage_wan27(resolution: str, sr: int, duration: int) -> None:
    req = _request("wan2.7-t2v", resolution=resolution, ratio="9:16", duration=duration)
    usage = usage_for(req, UsageStyle.WAN27, float(duration))
    assert usage == {
        "duration": duration,
        "input_video_duration": 0,
        "output_video_duration": duration,
        "video_count": 1,
        "ratio": "9:16",
        "SR": sr,
    }
    assert type(usage["SR"]) is int
    assert type(usage["duration"]) is int  # a whole number of seconds reads as upstream's does: 5, not 5.0


@pytest.mark.parametrize(
    ("size", "sr"), [("1280*720", 720), ("1080*1920", 1080), ("1632*1248", 1080), ("832*1088", 720)]
)
def test_usage_wan26(size: str, sr: int) -> None:
    req = _request("wan2.6-t2v", size=size, duration=10)
    usage = usage_for(req, UsageStyle.WAN26, 10.0)
    assert usage == {
        "duration": 10,
        "size": size,
        "input_video_duration": 0,
        "output_video_duration": 10,
        "video_count": 1,
        "SR": sr,
    }
    assert type(usage["SR"]) is int


@pytest.mark.parametrize(
    ("model", "size", "duration"),
    [
        ("wan2.5-t2v-preview", "832*480", 10),
        ("wan2.5-t2v-preview", "1920*1080", 5),
        ("wan2.2-t2v-plus", "480*832", 5),
        ("wanx2.1-t2v-turbo", "1280*720", 5),
    ],
)
def test_usage_wan25(model: str, size: str, duration: int) -> None:
    req = _request(model, size=size, duration=duration)
    assert usage_for(req, UsageStyle.WAN25, float(duration)) == {
        "video_count": 1,
        "video_duration": duration,
        "video_ratio": size,
    }


@pytest.mark.parametrize("model", sorted(PUBLIC_MODELS))
def test_usage_style_of_every_model_has_video_count(model: str) -> None:
    usage = usage_for(_request(model), PUBLIC_MODELS[model].usage, 5.0)
    assert usage["video_count"] == 1
    assert ("SR" in usage) is (PUBLIC_MODELS[model].usage is not UsageStyle.WAN25)


@pytest.mark.parametrize(
    ("style", "fields"),
    [
        (UsageStyle.WAN27, {"duration": 5.042, "output_video_duration": 5.042}),
        (UsageStyle.WAN26, {"duration": 5.042, "output_video_duration": 5.042}),
        (UsageStyle.WAN25, {"video_duration": 5}),
    ],
)
def test_usage_reports_the_length_produced_not_the_length_asked(style: UsageStyle, fields: dict[str, object]) -> None:
    # E.g. an upstream's mp4 of 121 frames at 24 fps for a 5 s request: the client is billed what it got.
    usage = usage_for(_request("wan2.6-t2v", duration=5), style, 121 / 24)
    assert {name: usage[name] for name in fields} == fields
    assert usage_for(_request("wan2.6-t2v", duration=5), style, 3.0)[next(iter(fields))] == 3


def test_usage_sr_of_a_480p_legacy_request() -> None:
    req = _request("wan2.5-t2v-preview", size="624*624")
    assert usage_for(req, UsageStyle.WAN26, 5.0)["SR"] == 480


# ------------------------------------------------------------------------------------------ relay_status


@pytest.mark.parametrize(
    ("status", "relay"),
    [
        (S.PENDING, "submitted"),
        (S.RUNNING, "in_progress"),
        (S.SUCCEEDED, "completed"),
        (S.FAILED, "failed"),
        (S.CANCELED, "failed"),
        (S.UNKNOWN, "failed"),
    ],
)
def test_relay_status(status: TaskStatus, relay: str) -> None:
    assert relay_status(status) == relay


def test_relay_status_vocabulary() -> None:
    assert {relay_status(s) for s in TaskStatus} == {"submitted", "in_progress", "completed", "failed"}


# -------------------------------------------------------------------------------------------------- Task


def test_task_defaults_and_independent_dicts() -> None:
    req = _request("wan2.7-t2v")
    one = Task("t1", "k1", req, S.PENDING, 1_700_000_000_000, "r1", 42)
    two = Task("t2", "k1", req, S.PENDING, 1_700_000_000_000, "r2", 43)
    assert (one.scheduled_ms, one.end_ms, one.result_key, one.actual_prompt) == (None, None, None, None)
    assert (one.progress, one.attempts, one.error_code, one.error_message) == (0, 0, None, None)
    assert one.extension == {} and one.usage == {}
    assert one.extension is not two.extension
    assert one.usage is not two.usage
    with pytest.raises(AttributeError):
        one.status = S.RUNNING  # type: ignore[misc]
