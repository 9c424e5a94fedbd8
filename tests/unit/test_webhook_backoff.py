from __future__ import annotations

import json

import pytest

from videosynth.webhooks.backoff import retry_delay_s
from videosynth.webhooks.events import event_body, task_data


@pytest.mark.parametrize(
    ("attempts", "ceiling"), [(0, 5.0), (1, 5.0), (2, 10.0), (3, 20.0), (10, 60.0), (10_000, 60.0)]
)
def test_delay_doubles_up_to_the_cap_and_jitters_within_half(attempts: int, ceiling: float) -> None:
    assert retry_delay_s(attempts, 5.0, 60.0, jitter=lambda: 0.0) == ceiling / 2
    assert ceiling / 2 <= retry_delay_s(attempts, 5.0, 60.0) < ceiling
    assert retry_delay_s(attempts, 5.0, 60.0, jitter=lambda: 0.999999) == pytest.approx(ceiling, rel=1e-5)


def test_event_body_is_compact_json_with_utc_timestamp() -> None:
    body = event_body("task.succeeded", 1_767_225_600_123, {"task_id": "t", "orig_prompt": "一只猫"})
    expected = {
        "type": "task.succeeded",
        "timestamp": "2026-01-01T00:00:00.123Z",
        "data": {"task_id": "t", "orig_prompt": "一只猫"},
    }
    assert body == json.dumps(expected, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(body)["data"]["orig_prompt"] == "一只猫"


def test_a_gone_task_reads_as_unknown() -> None:
    assert task_data(lambda _id: None, "t1") == {"task_id": "t1", "task_status": "UNKNOWN"}
    assert task_data(lambda task_id: {"task_id": task_id, "task_status": "FAILED"}, "t2")["task_status"] == "FAILED"
