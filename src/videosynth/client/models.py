"""Typed requests and answers of the DashScope video API, as the SDK hands them out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})


class VideoOptions(TypedDict, total=False):
    """What a create may ask besides the prompt (wan2.7: resolution × ratio; wan2.1–2.6: size)."""

    model: str
    resolution: str
    ratio: str
    duration: int
    size: str
    seed: int
    negative_prompt: str
    watermark: bool
    prompt_extend: bool
    audio_url: str
    first_frame_url: str  # image-to-video: an http(s) or data: URL of the first frame
    last_frame_url: str  # first-and-last-frame models: the last frame


@dataclass(frozen=True)
class VideoRequest:
    prompt: str
    model: str = "wan2.7-t2v"
    resolution: str | None = None
    ratio: str | None = None
    duration: int | None = None
    size: str | None = None
    seed: int | None = None
    negative_prompt: str | None = None
    watermark: bool | None = None
    prompt_extend: bool | None = None
    audio_url: str | None = None
    first_frame_url: str | None = None
    last_frame_url: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where a task is: ``phase`` is queued, extending_prompt, denoising, encoding, uploading or done (``running``
    when the server reports no phase); ``percent``, ``step`` of ``steps`` and ``eta_s`` where it says them."""

    phase: str
    percent: int | None = None
    step: int | None = None
    steps: int | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class Task:
    task_id: str
    status: str
    progress: Progress
    request_id: str | None = None
    video_url: str | None = None
    seed: int | None = None
    orig_prompt: str | None = None
    actual_prompt: str | None = None
    submit_time: str | None = None
    end_time: str | None = None
    code: str | None = None
    message: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    reproducibility: dict[str, Any] | None = None  # videosynth's record of how the video was made (SUCCEEDED)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class TaskSummary:
    """One row of the task list (the Java SDK's AsyncTaskInfo; times in epoch milliseconds)."""

    task_id: str
    status: str
    model_name: str | None
    gmt_create: int | None
    end_time: int | None
    request_id: str | None


@dataclass(frozen=True)
class Video:
    """What ``generate`` made: the finished task and the file on disk."""

    task: Task
    path: Path
    size_bytes: int
