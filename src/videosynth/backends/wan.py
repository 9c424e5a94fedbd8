"""Wan text-to-video through diffusers' stock ``WanPipeline`` (design.md §1, §7).

One generator serves one registry entry (Wan2.1, Wan2.2-TI2V-5B or Wan2.2-T2V-A14B). torch and diffusers are
imported inside functions only: importing this module costs nothing, so a process that never builds a generator
never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from videosynth.backends.base import Capabilities, Frames, GenerationJob, RunContext, StepCallback, library_versions
from videosynth.backends.checkpoint_hash import checkpoint_sha256
from videosynth.backends.wan_pipeline import (
    capabilities,
    fit_to_entry,
    load_pipeline,
    place,
    resolve_device,
    resolve_dtype,
    scheduler_with_shift,
)
from videosynth.domain.errors import InvalidParameter
from videosynth.registry import WanEntry, demo_arch, registry_for_settings, wan_entry
from videosynth.settings import Settings

__all__ = ["UnsupportedJob", "WanGenerator", "resolve_device", "resolve_dtype"]


class UnsupportedJob(InvalidParameter, ValueError):
    """A job outside what the model can generate. InvalidParameter, so the task fails with that code."""


@dataclass
class WanGenerator:
    """A loaded pipeline plus the registry entry that shapes each call. Build with :meth:`from_settings`."""

    pipe: Any  # diffusers.WanPipeline; its attributes are registered at runtime, so mypy cannot see them
    entry: WanEntry
    capabilities: Capabilities
    settings: Settings
    device: str  # resolved: "cuda", "cuda:1", "cpu"
    checkpoint: str | None = None  # the folder or hub id it was loaded from (None: built in memory)
    checkpoint_sha256: str | None = None  # the folder's content hash, for reproducibility records
    # One scheduler per flow shift in use (Wan2.1-14B: 3.0 at 480P, 5.0 at 720P), built once each.
    _schedulers: dict[float | None, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._schedulers.setdefault(None, self.pipe.scheduler)  # the checkpoint's own, as saved

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> WanGenerator:
        """The generator for ``model`` (a public or entry name; default: the registry's default entry)."""
        registry = registry_for_settings(settings)
        entry = registry.entry_for(model) if model else registry.default_entry()
        return cls.from_entry(wan_entry(entry), settings)

    @classmethod
    def from_entry(cls, entry: WanEntry, settings: Settings) -> WanGenerator:
        import torch

        if settings.torch_threads is not None:
            # Process-wide. Also pins CPU determinism: float results differ between thread counts.
            torch.set_num_threads(settings.torch_threads)
        device = resolve_device(settings.device)
        dtype = resolve_dtype(settings.dtype if settings.dtype != "auto" else entry.dtype, device)
        checkpoint = _checkpoint(entry, settings)
        pipe = load_pipeline(checkpoint, dtype)
        generator = cls.from_pipeline(pipe, entry, settings, device)
        generator.checkpoint = checkpoint
        generator.checkpoint_sha256 = checkpoint_sha256(checkpoint, settings.data_dir / "cache" / "checkpoints")
        return generator

    @classmethod
    def from_pipeline(cls, pipe: Any, entry: WanEntry, settings: Settings, device: str) -> WanGenerator:
        """Wrap an already built pipeline (the benchmark builds full-size random weights in memory)."""
        fit_to_entry(pipe, entry)
        caps = capabilities(pipe, entry)
        place(pipe, device, entry)
        return cls(pipe=pipe, entry=entry, capabilities=caps, settings=settings, device=device)

    def run(self, job: GenerationJob, context: RunContext) -> Frames:
        """The Backend seam: a local model makes frames; the worker fits, marks and encodes them."""
        return self.generate(job, context.on_step)

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        """How this generator makes ``job``: checkpoint, sampler, precision, device and library versions."""
        import torch

        entry, pipe = self.entry, self.pipe
        kwargs = self.pipeline_kwargs(job)
        return {
            "backend": "wan",
            "entry": entry.name,
            "checkpoint": self.checkpoint,
            "checkpoint_sha256": self.checkpoint_sha256,
            "pipeline": type(pipe).__name__,
            "steps": kwargs["num_inference_steps"],
            "guidance_scale": kwargs["guidance_scale"],
            "guidance_scale_2": kwargs.get("guidance_scale_2"),
            "scheduler": type(self.scheduler_for(job.width, job.height)).__name__,
            "flow_shift": entry.flow_shift_for(job.width, job.height),
            "max_sequence_length": kwargs["max_sequence_length"],
            "dtype": str(pipe.transformer.dtype).removeprefix("torch."),
            "device": self.device,
            "torch_threads": torch.get_num_threads(),
            "noise": "torch.Generator('cpu').manual_seed(seed)",
            "versions": library_versions("diffusers", "transformers", "torch"),
        }

    def generate(self, job: GenerationJob, on_step: StepCallback) -> Frames:
        import torch

        self.validate(job)
        steps = self.entry.steps

        def step_end(_pipe: Any, i: int, _t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            on_step(i + 1, steps)  # may raise GenerationAborted, which leaves the pipeline call at once
            return callback_kwargs  # diffusers reads the tensors back from the returned dict

        self.pipe.scheduler = self.scheduler_for(job.width, job.height)
        with torch.inference_mode():
            output = self.pipe(
                **self.pipeline_kwargs(job),
                # The initial noise is drawn on the CPU whatever the device, so one seed gives the same
                # starting latents on CPU and on any GPU (CUDA's RNG produces a different stream).
                generator=torch.Generator(device="cpu").manual_seed(job.seed),
                callback_on_step_end=step_end,
            )
        return _to_uint8(output.frames[0])

    def pipeline_kwargs(self, job: GenerationJob) -> dict[str, Any]:
        """The ``WanPipeline.__call__`` arguments for ``job`` from the entry's defaults (no torch objects)."""
        entry = self.entry
        kwargs: dict[str, Any] = {
            "prompt": job.prompt,
            "negative_prompt": job.negative_prompt,
            "width": job.width,
            "height": job.height,
            "num_frames": job.num_frames,
            "num_inference_steps": entry.steps,
            "guidance_scale": entry.guidance_scale,
            "max_sequence_length": entry.max_sequence_length,
            "output_type": "np",
        }
        if entry.guidance_scale_2 is not None:
            kwargs["guidance_scale_2"] = entry.guidance_scale_2  # the low-noise expert's (Wan2.2-A14B)
        return kwargs

    def validate(self, job: GenerationJob) -> None:
        """Refuse, before any torch work, a job this model cannot make (the pipeline would silently round it)."""
        caps, entry = self.capabilities, self.entry
        multiple, factor = caps.spatial_multiple, caps.temporal_factor
        problems = []
        if min(job.width, job.height) < multiple or job.width % multiple or job.height % multiple:
            problems.append(f"width and height must be positive multiples of {multiple}, got {job.width}x{job.height}")
        elif caps.max_pixels is not None and job.width * job.height > caps.max_pixels:
            problems.append(f"width × height must be at most {caps.max_pixels}, got {job.width}x{job.height}")
        if job.num_frames < 1 or (job.num_frames - 1) % factor:
            problems.append(f"num_frames must be k·{factor}+1, got {job.num_frames}")
        elif entry.max_frames is not None and job.num_frames > entry.max_frames:
            problems.append(f"num_frames must be at most {entry.max_frames}, got {job.num_frames}")
        if problems:
            raise UnsupportedJob(f"Model {entry.name} cannot generate this: {'; '.join(problems)}.")

    def scheduler_for(self, width: int, height: int) -> Any:
        """The scheduler with the entry's flow shift for this size (the checkpoint's own when none is set)."""
        shift = self.entry.flow_shift_for(width, height)
        if shift is not None and shift not in self._schedulers:
            self._schedulers[shift] = scheduler_with_shift(self._schedulers[None], self.entry, shift)
        return self._schedulers[shift]


def _checkpoint(entry: WanEntry, settings: Settings) -> str:
    if entry.is_demo:
        from videosynth.backends.tiny import ensure_demo_checkpoint

        return str(ensure_demo_checkpoint(settings, demo_arch(entry)))
    return entry.checkpoint


def _to_uint8(frames: npt.NDArray[np.floating[Any]]) -> Frames:
    # As media.frames.to_uint8; backends may not import media (independent import-linter layers).
    scaled = np.clip(frames, 0.0, 1.0) * 255.0
    np.rint(scaled, out=scaled)
    out: Frames = scaled.astype(np.uint8)
    return out
