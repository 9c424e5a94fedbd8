"""The seam between the worker and whatever makes a video: a local model's frames or a finished mp4."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from videosynth.domain.request import GenerationRequest

Frames = npt.NDArray[np.uint8]  # (frames, height, width, 3) RGB
Picture = npt.NDArray[np.uint8]  # (height, width, 3) RGB: an input image

# Called after each step of the work with (step, total): denoising steps, or an upstream's progress. It publishes
# progress, and raises GenerationAborted when the lease was lost or the worker must stop, so call it often.
StepCallback = Callable[[int, int], None]

# Records a backend's state with the task, durably, before returning; raises GenerationAborted when the lease is
# no longer this worker's (the state was not saved, and the task is someone else's now).
SaveState = Callable[[Mapping[str, Any]], None]


class GenerationAborted(Exception):
    """Raised from a step callback: the lease was lost or the worker is shutting down."""


class WorkCanceled(Exception):
    """Raised by a backend whose work was canceled where it ran (an upstream canceled the task forwarded to it, on
    our cancel): the task ends CANCELED, with this message."""


@dataclass(frozen=True)
class Capabilities:
    fps: int
    spatial_multiple: int  # generated width/height must be multiples of this (latent grid × patch)
    temporal_factor: int  # generated frame count is k·temporal_factor + 1
    max_pixels: int | None  # cap on generated width × height; None = generate at output size
    # The backend forwards the client's request as it is to an upstream that extends the prompt and fetches the
    # audio itself (a relay): the runner then extends no prompt and downloads no audio_url of its own.
    forwards_request: bool = False
    # The model conditions on a first (and last) frame: image-to-video checkpoints, and Wan2.2-TI2V.
    takes_images: bool = False


@dataclass(frozen=True)
class GenerationJob:
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_frames: int
    seed: int
    image: Picture | None = None  # image-to-video: the first frame, as decoded (any size; the pipeline resizes)
    last_image: Picture | None = None  # first-and-last-frame: the last frame


@dataclass(frozen=True)
class FinishedVideo:
    """An mp4 a backend made whole (e.g. downloaded from an upstream), at the request's size.

    The runner checks it (a real H.264 mp4 of the requested width × height) and stores it as it is: no fitting,
    watermark or soundtrack is added. Write it under ``RunContext.scratch_dir``, which is removed after the task.
    """

    path: Path
    # What the upstream reported, carried into our task where given: the prompt it used (after its extension),
    # the seed it used, and its usage block (what it billed; else ours is computed from the stored mp4).
    actual_prompt: str | None = None
    seed: int | None = None
    usage: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunContext:
    """What a backend gets besides the job: the task it works for, its saved state, and the runner's callbacks."""

    task_id: str
    request: GenerationRequest  # as the client asked; the job is the local model's share of it
    on_step: StepCallback
    # The state saved by an earlier claim of this task ({} on the first): a backend that resumes work elsewhere
    # (an upstream task id) finds it here after its worker died, and must not start that work twice.
    state: Mapping[str, Any]
    save_state: SaveState  # JSON-serialisable values only
    scratch_dir: Path


class Backend(Protocol):
    """Makes the video of one task at a time; built once per worker (backends.factories) and kept."""

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def device(self) -> str:
        """Where the work runs, for metrics labels ("cuda:0", "cpu", an upstream's name)."""
        ...

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        """How this backend makes ``job`` (checkpoint and its hash, sampler, device, versions; an upstream's name),
        for the task's reproducibility record. JSON values only; never a secret."""
        ...

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        """Frames of exactly (job.num_frames, job.height, job.width, 3), uint8, for the runner to fit, mark and
        encode; or a FinishedVideo to store as it is."""
        ...


class WrappedBackend:
    """A backend that hands everything to ``inner``: subclasses change only what they add to (run, recipe)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    @property
    def capabilities(self) -> Capabilities:
        return self.inner.capabilities

    @property
    def device(self) -> str:
        return self.inner.device

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        return self.inner.recipe(job)

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        return self.inner.run(job, context)


def library_versions(*distributions: str) -> dict[str, str | None]:
    """Installed versions of videosynth and the given distributions (None: not installed), for records."""
    from importlib.metadata import PackageNotFoundError, version

    found: dict[str, str | None] = {}
    for name in ("videosynth", "python", *distributions):
        if name == "python":
            import platform

            found[name] = platform.python_version()
            continue
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found
