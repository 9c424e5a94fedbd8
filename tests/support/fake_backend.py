"""An in-memory Backend for worker tests: deterministic frames at once, or a given mp4; failing or aborting on cue.

Everything around it is real (the runner, the store, the encoder, the blob folder), so a test of the Worker with
it checks the worker's own behaviour: claims, progress, leases, state, results.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from videosynth.backends.base import (
    Capabilities,
    FinishedVideo,
    Frames,
    GenerationAborted,
    GenerationJob,
    RunContext,
)

# 4 fps and a 64×64 cap keep every test's video small: a 2 s request is 9 generated frames of 80×48.
FAKE_CAPABILITIES = Capabilities(fps=4, spatial_multiple=16, temporal_factor=4, max_pixels=64 * 64)

StepHook = Callable[[RunContext], None]


def frames_for(job: GenerationJob) -> Frames:
    """The frames FakeBackend returns for ``job``: a gradient that moves with the frame index and the seed."""
    t = np.arange(job.num_frames).reshape(-1, 1, 1, 1)
    y = np.arange(job.height).reshape(1, -1, 1, 1)
    x = np.arange(job.width).reshape(1, 1, -1, 1)
    c = np.arange(3).reshape(1, 1, 1, 3)
    out: Frames = ((job.seed + 16 * t + 2 * x + 3 * y + 80 * c) % 256).astype(np.uint8)
    return out


@dataclass
class FakeBackend:
    steps: int = 3
    step_s: float = 0.0  # sleep after each step (for tests that wait for the heartbeat)
    video: Path | None = None  # return a copy of this mp4 as a FinishedVideo instead of frames
    error: Exception | None = None  # raised once the steps are done
    abort_at: int | None = None  # raise GenerationAborted at this step, before calling on_step
    at_step: dict[int, StepHook] = field(default_factory=dict)  # run at that step, before on_step
    capabilities: Capabilities = FAKE_CAPABILITIES
    device: str = "fake"
    jobs: list[GenerationJob] = field(default_factory=list)
    contexts: list[RunContext] = field(default_factory=list)
    steps_done: int = 0

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        return {"backend": "fake", "steps": self.steps, "device": self.device}

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        self.jobs.append(job)
        self.contexts.append(context)
        for step in range(1, self.steps + 1):
            if step == self.abort_at:
                raise GenerationAborted()
            if step in self.at_step:
                self.at_step[step](context)
            context.on_step(step, self.steps)
            self.steps_done = step
            time.sleep(self.step_s)
        if self.error is not None:
            raise self.error
        if self.video is not None:
            copy = context.scratch_dir / "upstream.mp4"
            shutil.copyfile(self.video, copy)
            return FinishedVideo(copy)
        return frames_for(job)
