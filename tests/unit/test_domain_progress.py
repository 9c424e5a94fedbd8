"""Honest progress: phases, the denoising step of steps, the ETA from measured steps, and the events' view."""

from __future__ import annotations

import dataclasses

from tests.support.tasks import make_task

from videosynth.domain.progress import PHASE_START, Phase, WorkProgress, denoising, entering, progress_view
from videosynth.domain.task import TaskStatus


def test_each_phase_starts_further_along_than_the_one_before() -> None:
    starts = [PHASE_START[phase] for phase in Phase]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)
    assert (starts[0], starts[-1]) == (0, 100)
    assert entering(Phase.ENCODING) == WorkProgress(Phase.ENCODING, 90)


def test_denoising_advances_step_by_step_with_an_eta_from_the_mean_step_time() -> None:
    assert denoising(0, 40, elapsed_s=0.0) == WorkProgress(Phase.DENOISING, 5, 0, 40, None)  # nothing measured yet
    assert denoising(10, 40, elapsed_s=5.0) == WorkProgress(Phase.DENOISING, 26, 10, 40, 15_000)
    assert denoising(40, 40, elapsed_s=20.0) == WorkProgress(Phase.DENOISING, 90, 40, 40, 0)
    percents = [denoising(step, 40, elapsed_s=step * 0.5).percent for step in range(41)]
    assert percents == sorted(percents) and len(set(percents)) > 30  # no jump from 5 to 90


def test_denoising_clamps_what_a_backend_reports() -> None:
    assert denoising(7, 0, elapsed_s=1.0) == WorkProgress(Phase.DENOISING, 90, 1, 1, 0)
    assert denoising(-3, 10, elapsed_s=1.0).step == 0


def test_the_view_of_each_status() -> None:
    pending = make_task()
    assert progress_view(pending) == {"phase": "queued", "percent": 0, "step": None, "steps": None, "eta_s": None}
    assert progress_view(None)["phase"] == "done"
    claimed = dataclasses.replace(pending, status=TaskStatus.RUNNING)
    assert progress_view(claimed)["phase"] == "queued"  # claimed, nothing published yet
    working = dataclasses.replace(claimed, phase="denoising", progress=47, step=21, steps=40, eta_ms=12_600)
    assert progress_view(working) == {"phase": "denoising", "percent": 47, "step": 21, "steps": 40, "eta_s": 12.6}
    done = dataclasses.replace(working, status=TaskStatus.SUCCEEDED)
    assert progress_view(done) == {"phase": "done", "percent": 100, "step": None, "steps": None, "eta_s": None}
    failed = dataclasses.replace(working, status=TaskStatus.FAILED)
    assert progress_view(failed) == {"phase": "done", "percent": 47, "step": None, "steps": None, "eta_s": None}
