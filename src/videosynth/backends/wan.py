"""Wan text- and image-to-video through diffusers' stock ``WanPipeline`` and ``WanImageToVideoPipeline``.

One generator serves one registry entry (Wan2.1, Wan2.2-TI2V-5B, Wan2.2-T2V-A14B, Wan2.1-I2V or
Wan2.2-I2V-A14B; design.md §1, §7). An image-to-video checkpoint needs a first frame; Wan2.2-TI2V-5B makes
text-to-video without one and conditions on one when given (its weights through
``WanImageToVideoPipeline.from_pipe``). torch and diffusers are imported inside functions only: importing this
module costs nothing, so a process that never builds a generator never loads torch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from videosynth.backends.attention import AttentionChoice, select_attention
from videosynth.backends.base import (
    Capabilities,
    Frames,
    GenerationJob,
    Picture,
    RunContext,
    StepCallback,
    library_versions,
)
from videosynth.backends.checkpoint_hash import checkpoint_sha256
from videosynth.backends.compiled import compile_blocks
from videosynth.backends.fp8 import store_weights_in_fp8
from videosynth.backends.guidance import batched_guidance
from videosynth.backends.parallel import PARALLEL_SAFE, enable_context_parallel
from videosynth.backends.step_cache import enable_first_block_cache, enable_mag_cache, reset_caches
from videosynth.backends.wan_pipeline import (
    capabilities,
    fit_to_entry,
    load_pipeline,
    place,
    resolve_device,
    resolve_dtype,
    scheduler_with_shift,
    transformers,
)
from videosynth.domain.errors import InvalidParameter
from videosynth.domain.plan import frames_for
from videosynth.registry import I2V_ARCHS, WanEntry, demo_arch, registry_for_settings, wan_entry
from videosynth.settings import Settings

__all__ = ["UnsupportedJob", "WanGenerator", "resolve_checkpoint", "resolve_device", "resolve_dtype"]

log = logging.getLogger(__name__)
DEFAULT_SECONDS = 5  # the API's default duration: the clip length a warm-up compiles for


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
    _image_pipe: Any = field(default=None, repr=False)  # Wan2.2-TI2V's image-conditioned view of ``pipe``
    attention: AttentionChoice = field(default_factory=lambda: AttentionChoice("native"))
    warmup_s: float | None = None  # compile = true: the warm-up's seconds at load

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
        checkpoint = resolve_checkpoint(entry, settings)
        pipe = load_pipeline(checkpoint, dtype, entry.arch)
        generator = cls.from_pipeline(pipe, entry, settings, device)
        generator.checkpoint = checkpoint
        generator.checkpoint_sha256 = checkpoint_sha256(checkpoint, settings.data_dir / "cache" / "checkpoints")
        if entry.compile:
            generator.warm_up()
        return generator

    @classmethod
    def from_pipeline(cls, pipe: Any, entry: WanEntry, settings: Settings, device: str) -> WanGenerator:
        """Wrap an already built pipeline (the benchmark builds full-size random weights in memory)."""
        fit_to_entry(pipe, entry)
        caps = capabilities(pipe, entry)
        place(pipe, device, entry)
        models = transformers(pipe)
        parallel = entry.ulysses_degree > 1
        attention = select_attention(models, device, models[0].dtype, PARALLEL_SAFE if parallel else None)
        if parallel:
            enable_context_parallel(models, entry.ulysses_degree)
        if entry.fast_cache_threshold is not None:
            enable_first_block_cache(models, entry.fast_cache_threshold)
        if entry.mag_cache_ratios:
            enable_mag_cache(models, entry.mag_cache_ratios, entry.mag_cache_threshold, entry.steps)
        if entry.fp8_weights:
            store_weights_in_fp8(models)
        if entry.compile:
            compile_blocks(models)
        return cls(pipe=pipe, entry=entry, capabilities=caps, settings=settings, device=device, attention=attention)

    def warm_up(self, buckets: Sequence[tuple[int, int, int]] | None = None) -> float:
        """One denoising step per (width, height, frames) bucket (default: each native size at the default
        clip length), so a compiled transformer has its graphs before the first task; returns the seconds."""
        start = time.perf_counter()
        fit = replace(self.entry, steps=1)
        frames = frames_for(self.entry.fps * DEFAULT_SECONDS, self.entry.temporal_factor)
        for width, height, count in buckets or [(w, h, frames) for w, h in self.entry.native_sizes]:
            # An image-to-video model needs a first frame: a flat grey one has the shapes of any other.
            image = np.full((height, width, 3), 128, np.uint8) if self.entry.arch in I2V_ARCHS else None
            job = GenerationJob("warm-up", "", width, height, count, seed=0, image=image)
            replace(self, entry=fit).generate(job, lambda _step, _total: None)
        self.warmup_s = time.perf_counter() - start
        log.info("warmed up in %.1f s", self.warmup_s, extra={"model": self.entry.name})
        return self.warmup_s

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
            "attention": self.attention.backend,
            "fast_cache_threshold": entry.fast_cache_threshold,  # None (and no MagCache): the exact path
            "mag_cache": {"threshold": entry.mag_cache_threshold, "ratios": list(entry.mag_cache_ratios)}
            if entry.mag_cache_ratios
            else None,
            "compiled": entry.compile,
            "ulysses_degree": entry.ulysses_degree,
            "fp8_weights": entry.fp8_weights,
            "vae_dtype": str(pipe.vae.dtype).removeprefix("torch."),
            "vae_channels_last": entry.vae_channels_last,
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

        pipe = self.pipeline_for(job)
        pipe.scheduler = self.scheduler_for(job.width, job.height)
        reset_caches(transformers(pipe))
        kwargs = self.pipeline_kwargs(job)
        with torch.inference_mode(), ExitStack() as stack:
            if kwargs["guidance_scale"] > 1:  # diffusers' own test for running the unconditional pass
                cond, uncond = self._embed(pipe, kwargs)
                stack.enter_context(batched_guidance(pipe, cond, uncond))
            output = pipe(
                **kwargs,
                # The initial noise is drawn on the CPU whatever the device, so one seed gives the same
                # starting latents on CPU and on any GPU (CUDA's RNG produces a different stream).
                generator=torch.Generator(device="cpu").manual_seed(job.seed),
                callback_on_step_end=step_end,
            )
        return _to_uint8(output.frames[0])

    @staticmethod
    def _embed(pipe: Any, kwargs: dict[str, Any]) -> tuple[Any, Any]:
        """Encode both prompts as the pipeline would and hand it the embeddings instead (moved out of
        ``kwargs``): batched guidance tells the two transformer calls apart by these very tensors."""
        model = transformers(pipe)[0]
        cond, uncond = pipe.encode_prompt(
            kwargs.pop("prompt"),
            kwargs.pop("negative_prompt"),
            do_classifier_free_guidance=True,
            max_sequence_length=kwargs["max_sequence_length"],
            device=pipe._execution_device,
        )
        cond, uncond = cond.to(model.dtype), uncond.to(model.dtype)
        kwargs.update(prompt_embeds=cond, negative_prompt_embeds=uncond)
        return cond, uncond

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
        if job.image is not None:
            kwargs["image"] = _pil(job.image)  # resized to width × height by the pipeline's video processor
        if job.last_image is not None:
            kwargs["last_image"] = _pil(job.last_image)
        return kwargs

    def pipeline_for(self, job: GenerationJob) -> Any:
        """The pipeline that makes ``job``: ``pipe``, or for an image on Wan2.2-TI2V its image-to-video view."""
        if job.image is None or self.entry.arch in I2V_ARCHS:
            return self.pipe
        if self._image_pipe is None:
            from diffusers import WanImageToVideoPipeline

            # Shares every module (no second copy of the weights); expand_timesteps keeps TI2V's per-token timesteps.
            self._image_pipe = WanImageToVideoPipeline.from_pipe(self.pipe)
            self._image_pipe.register_to_config(expand_timesteps=True)
            self._image_pipe.set_progress_bar_config(disable=True)
        return self._image_pipe

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
        problems.extend(self._image_problems(job))
        if problems:
            raise UnsupportedJob(f"Model {entry.name} cannot generate this: {'; '.join(problems)}.")

    def _image_problems(self, job: GenerationJob) -> list[str]:
        arch = self.entry.arch
        if job.image is None and arch in I2V_ARCHS:
            return ["an image-to-video model needs a first frame image"]
        if job.image is not None and not self.capabilities.takes_images:
            return ["it is a text-to-video model and takes no image"]
        if job.last_image is not None and not self.takes_last_image:
            return ["it takes no last frame (Wan2.2-I2V-A14B and Wan2.1-FLF2V do)"]
        return []

    @property
    def takes_last_image(self) -> bool:
        """Wan2.2-I2V-A14B conditions on a last frame as on the first; of Wan2.1's, only the FLF2V checkpoint
        (its transformer embeds the positions of two images' CLIP tokens: ``pos_embed_seq_len``)."""
        if self.entry.arch == "wan2.2-i2v-a14b":
            return True
        return self.entry.arch == "wan2.1-i2v" and self.pipe.transformer.config.get("pos_embed_seq_len") is not None

    def scheduler_for(self, width: int, height: int) -> Any:
        """The scheduler with the entry's flow shift for this size (the checkpoint's own when none is set)."""
        shift = self.entry.flow_shift_for(width, height)
        if shift is not None and shift not in self._schedulers:
            self._schedulers[shift] = scheduler_with_shift(self._schedulers[None], self.entry, shift)
        return self._schedulers[shift]


def resolve_checkpoint(entry: WanEntry, settings: Settings) -> str:
    """The entry's checkpoint: its folder or hub id; a demo one is built into the data dir first if missing."""
    if entry.is_demo:
        from videosynth.backends.tiny import ensure_demo_checkpoint

        return str(ensure_demo_checkpoint(settings, demo_arch(entry)))
    return entry.checkpoint


def _pil(picture: Picture) -> Any:
    from PIL import Image

    return Image.fromarray(picture, mode="RGB")


def _to_uint8(frames: npt.NDArray[np.floating[Any]]) -> Frames:
    # As media.frames.to_uint8; backends may not import media (independent import-linter layers).
    scaled = np.clip(frames, 0.0, 1.0) * 255.0
    np.rint(scaled, out=scaled)
    out: Frames = scaled.astype(np.uint8)
    return out
