"""The seam between the worker and whatever makes frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

Frames = npt.NDArray[np.uint8]  # (frames, height, width, 3) RGB

# Called after each denoising step with (step, total). It may raise GenerationAborted to stop promptly.
StepCallback = Callable[[int, int], None]


class GenerationAborted(Exception):
    """Raised from a step callback: the lease was lost or the worker is shutting down."""


@dataclass(frozen=True)
class Capabilities:
    fps: int
    spatial_multiple: int  # generated width/height must be multiples of this (latent grid × patch)
    temporal_factor: int  # generated frame count is k·temporal_factor + 1
    max_pixels: int | None  # cap on generated width × height; None = generate at output size


@dataclass(frozen=True)
class GenerationJob:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    seed: int


class Generator(Protocol):
    @property
    def capabilities(self) -> Capabilities: ...

    def generate(self, job: GenerationJob, on_step: StepCallback) -> Frames:
        """Frames of exactly (job.num_frames, job.height, job.width, 3), uint8."""
        ...
