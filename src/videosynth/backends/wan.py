"""Wan text-to-video through diffusers' stock ``WanPipeline`` (design.md §1, §7).

The one module that imports torch and diffusers, and only inside functions: importing it costs nothing, so a
process that never builds a generator never loads torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from videosynth.backends.base import Capabilities, Frames, GenerationJob, StepCallback
from videosynth.settings import Settings

if TYPE_CHECKING:
    import torch

_DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class WanGenerator:
    """A loaded pipeline plus the settings that shape each call. Build with :meth:`from_settings`."""

    pipe: Any  # diffusers.WanPipeline; its attributes are registered at runtime, so mypy cannot see them
    settings: Settings
    capabilities: Capabilities

    @classmethod
    def from_settings(cls, settings: Settings) -> WanGenerator:
        import torch

        if settings.torch_threads is not None:
            # Process-wide. Also pins CPU determinism: float results differ between thread counts.
            torch.set_num_threads(settings.torch_threads)
        device = resolve_device(settings.device)
        pipe = load_pipeline(_checkpoint(settings), device, resolve_dtype(settings.dtype, device))
        return cls(pipe=pipe, settings=settings, capabilities=_capabilities(pipe, settings))

    def generate(self, job: GenerationJob, on_step: StepCallback) -> Frames:
        import torch

        self._validate(job)
        steps = self.settings.resolved_steps()

        def step_end(_pipe: Any, i: int, _t: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
            on_step(i + 1, steps)  # may raise GenerationAborted, which leaves the pipeline call at once
            return callback_kwargs  # diffusers reads the tensors back from the returned dict

        with torch.inference_mode():
            output = self.pipe(
                prompt=job.prompt,
                negative_prompt=job.negative_prompt,
                width=job.width,
                height=job.height,
                num_frames=job.num_frames,
                num_inference_steps=steps,
                guidance_scale=self.settings.model_guidance_scale,
                max_sequence_length=self.settings.model_max_sequence_length,
                # The initial noise is drawn on the CPU whatever the device, so one seed gives the same
                # starting latents on CPU and on any GPU (CUDA's RNG produces a different stream).
                generator=torch.Generator(device="cpu").manual_seed(job.seed),
                output_type="np",
                callback_on_step_end=step_end,
            )
        return _to_uint8(output.frames[0])

    def _validate(self, job: GenerationJob) -> None:
        # The pipeline would silently round bad sizes (logging a warning) and return frames of another shape.
        multiple, factor = self.capabilities.spatial_multiple, self.capabilities.temporal_factor
        problems = []
        if min(job.width, job.height) < multiple or job.width % multiple or job.height % multiple:
            size = f"{job.width}x{job.height}"
            problems.append(f"width and height must be positive multiples of {multiple}, got {size}")
        if job.num_frames < 1 or (job.num_frames - 1) % factor:
            problems.append(f"num_frames must be k·{factor}+1, got {job.num_frames}")
        if problems:
            raise ValueError("; ".join(problems))


def resolve_device(device: str) -> str:
    """'auto' → 'cuda' when a GPU is visible, else 'cpu'; anything else goes to torch as is."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """'auto' → bfloat16 on a GPU (what Wan is trained in), float32 on CPU (bf16 saves little there)."""
    import torch

    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be auto or one of {', '.join(_DTYPES)}, got {dtype!r}")
    result: torch.dtype = getattr(torch, dtype)
    return result


def load_pipeline(model: str, device: str, dtype: torch.dtype) -> Any:
    """``WanPipeline.from_pretrained`` (a folder, or a hub id in the local cache) moved to ``device``."""
    import torch
    from diffusers import WanPipeline

    # Wan's VAE loses quality in half precision (upstream and diffusers' examples keep it float32), and it is
    # a small share of the weights. The pipeline casts latents to the VAE's dtype before decoding.
    pipe = WanPipeline.from_pretrained(  # type: ignore[no-untyped-call]
        model, dtype={"default": dtype, "vae": torch.float32}
    )
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)  # progress is reported through on_step, not stderr
    return pipe


def _checkpoint(settings: Settings) -> str:
    if settings.is_demo_model:
        from videosynth.backends.tiny import ensure_demo_checkpoint

        return str(ensure_demo_checkpoint(settings))
    return settings.model


def _capabilities(pipe: Any, settings: Settings) -> Capabilities:
    _, patch_h, patch_w = pipe.transformer.config.patch_size
    return Capabilities(
        fps=settings.model_fps,
        # A latent cell spans vae_scale_factor_spatial pixels, a token spans a patch of cells: 8 × 2 = 16.
        spatial_multiple=pipe.vae_scale_factor_spatial * math.lcm(patch_h, patch_w),
        temporal_factor=pipe.vae_scale_factor_temporal,
        max_pixels=settings.resolved_max_pixels(),
    )


def _to_uint8(frames: npt.NDArray[np.floating[Any]]) -> Frames:
    # As media.frames.to_uint8; backends may not import media (independent import-linter layers).
    scaled = np.clip(frames, 0.0, 1.0) * 255.0
    np.rint(scaled, out=scaled)
    out: Frames = scaled.astype(np.uint8)
    return out
