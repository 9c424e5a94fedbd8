"""Task record, status machine and the pure renderings of a task (timestamps, usage, relay status)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from typing import Any

from videosynth.domain.catalog import UsageStyle
from videosynth.domain.request import GenerationRequest


class TaskStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """In the queue: counted against its key's quota of PENDING + RUNNING tasks."""
        return self in ACTIVE_STATUSES


FINAL_STATUSES = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELED})
ACTIVE_STATUSES = frozenset({TaskStatus.PENDING, TaskStatus.RUNNING})

# Every legal transition. The store writes a status only through one of these (store/transitions.py), as a
# guarded update (WHERE status = <from>), so two racing writers (cancel vs claim, finish vs requeue) cannot both
# win and an illegal transition cannot be written.
TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset({TaskStatus.RUNNING, TaskStatus.CANCELED, TaskStatus.FAILED}),
    # RUNNING → CANCELED only by its worker, when the upstream it forwarded the task to canceled it (a relay).
    TaskStatus.RUNNING: frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.PENDING, TaskStatus.CANCELED}),
    TaskStatus.SUCCEEDED: frozenset(),
    TaskStatus.FAILED: frozenset(),
    TaskStatus.CANCELED: frozenset(),
    TaskStatus.UNKNOWN: frozenset(),
}


def can_transition(current: TaskStatus, target: TaskStatus) -> bool:
    return target in TRANSITIONS[current]


def frees_a_slot(current: TaskStatus, target: TaskStatus) -> bool:
    """Whether this transition takes the task out of its key's active count (into a final status)."""
    return current.is_active and not target.is_active


@dataclass(frozen=True)
class Task:
    """One task as stored. Times are epoch milliseconds (UTC)."""

    task_id: str
    key_id: str
    request: GenerationRequest
    status: TaskStatus
    submit_ms: int
    request_id: str
    seed: int
    scheduled_ms: int | None = None
    end_ms: int | None = None
    progress: int = 0
    attempts: int = 0
    result_key: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    actual_prompt: str | None = None
    extension: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    # What the backend saved while working on it (e.g. an upstream's task id), kept across re-claims.
    backend_state: dict[str, Any] = field(default_factory=dict)
    # How the video was made, to make it again (worker/record.py); {} until it SUCCEEDED.
    record: dict[str, Any] = field(default_factory=dict)
    # What the worker last published about its work (domain/progress.py): a Phase value, the denoising step of
    # steps and the time the remaining steps need. None until a worker publishes, and again after a requeue.
    phase: str | None = None
    step: int | None = None
    steps: int | None = None
    eta_ms: int | None = None


def format_time(epoch_ms: int | None, zone: tzinfo = UTC) -> str | None:
    """DashScope's "YYYY-MM-DD HH:mm:ss.SSS"."""
    if epoch_ms is None:
        return None
    moment = datetime.fromtimestamp(epoch_ms // 1000, tz=zone)
    # isoformat, not strftime: glibc's strftime re-reads the time zone (a stat of /etc/localtime) on every call,
    # which made this line a tenth of a status poll's CPU.
    return f"{moment.isoformat(sep=' ', timespec='seconds')[:19]}.{epoch_ms % 1000:03d}"


def usage_for(request: GenerationRequest, style: UsageStyle, output_s: float) -> dict[str, Any]:
    """The usage block of a SUCCEEDED task, in the field set of the model family (api-contract.md §1.7).

    ``output_s`` is how long the stored video really plays (read back from the mp4), which is what a client is
    billed for; the size and tier fields say what was asked.
    """
    tier = int(request.resolution.rstrip("P"))
    seconds = _seconds(output_s)
    if style is UsageStyle.WAN27:
        return {
            "duration": seconds,
            "input_video_duration": 0,
            "output_video_duration": seconds,
            "video_count": 1,
            "ratio": request.ratio,
            "SR": tier,
        }
    if style is UsageStyle.WAN26:
        return {
            "duration": seconds,
            "size": f"{request.width}*{request.height}",
            "input_video_duration": 0,
            "output_video_duration": seconds,
            "video_count": 1,
            "SR": tier,
        }
    return {
        "video_count": 1,
        "video_duration": round(output_s),  # an integer in the wan2.5-and-earlier field table
        "video_ratio": f"{request.width}*{request.height}",
    }


def _seconds(value: float) -> int | float:
    """Whole seconds as an integer (a 5 s video reads ``5``, as upstream's does), else to the millisecond."""
    rounded = round(value, 3)
    return int(rounded) if rounded.is_integer() else rounded


_RELAY_STATUS = {
    TaskStatus.PENDING: "submitted",
    TaskStatus.RUNNING: "in_progress",
    TaskStatus.SUCCEEDED: "completed",
    TaskStatus.FAILED: "failed",
    TaskStatus.CANCELED: "failed",
    TaskStatus.UNKNOWN: "failed",
}


def relay_status(status: TaskStatus) -> str:
    """apiyi's poll vocabulary: submitted | in_progress | completed | failed."""
    return _RELAY_STATUS[status]
