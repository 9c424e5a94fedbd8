"""A task's progress as clients see it: the phase of the work, a percent, the denoising step and an ETA.

The worker publishes a ``WorkProgress`` at each phase and step (stored with the task); ``progress_view`` turns a
stored task into what the events stream shows. Percent moves through fixed spans per phase, and within denoising
step by step, so a client sees it advance rather than jump from 0 to 95.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from videosynth.domain.task import Task, TaskStatus


class Phase(StrEnum):
    QUEUED = "queued"
    EXTENDING_PROMPT = "extending_prompt"
    DENOISING = "denoising"
    ENCODING = "encoding"
    UPLOADING = "uploading"
    DONE = "done"


# Where each working phase starts on the percent bar; denoising (most of the work) fills up to encoding's start.
PHASE_START: dict[Phase, int] = {
    Phase.QUEUED: 0,
    Phase.EXTENDING_PROMPT: 1,
    Phase.DENOISING: 5,
    Phase.ENCODING: 90,
    Phase.UPLOADING: 95,
    Phase.DONE: 100,
}


@dataclass(frozen=True)
class WorkProgress:
    """What a worker publishes about the task it works on; ``eta_ms`` is the time the remaining steps need."""

    phase: Phase
    percent: int
    step: int | None = None
    steps: int | None = None
    eta_ms: int | None = None


def entering(phase: Phase) -> WorkProgress:
    """The progress at the start of ``phase``."""
    return WorkProgress(phase, PHASE_START[phase])


def denoising(step: int, steps: int, elapsed_s: float) -> WorkProgress:
    """Step ``step`` of ``steps`` done after ``elapsed_s`` of denoising: the ETA is the mean step time so far
    times the steps left (none before the first step is measured)."""
    steps = max(steps, 1)
    step = min(max(step, 0), steps)
    span = PHASE_START[Phase.ENCODING] - PHASE_START[Phase.DENOISING]
    percent = PHASE_START[Phase.DENOISING] + span * step // steps
    eta_ms = round(elapsed_s / step * (steps - step) * 1000) if step else None
    return WorkProgress(Phase.DENOISING, percent, step, steps, eta_ms)


def progress_view(task: Task | None) -> dict[str, Any]:
    """The events stream's ``progress`` object of a task (None: unknown to the caller)."""
    if task is None or task.status is TaskStatus.PENDING:
        return _view(Phase.DONE if task is None else Phase.QUEUED, 0)
    if task.status.is_final:
        return _view(Phase.DONE, 100 if task.status is TaskStatus.SUCCEEDED else task.progress)
    phase = Phase(task.phase) if task.phase else Phase.QUEUED  # claimed, nothing published yet
    return _view(phase, task.progress, task.step, task.steps, task.eta_ms)


def _view(
    phase: Phase, percent: int, step: int | None = None, steps: int | None = None, eta_ms: int | None = None
) -> dict[str, Any]:
    return {
        "phase": phase.value,
        "percent": min(max(percent, 0), 100),
        "step": step,
        "steps": steps,
        "eta_s": None if eta_ms is None else eta_ms / 1000,
    }
