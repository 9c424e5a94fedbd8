"""The model registry's types: one entry per checkpoint with its generation defaults, and the name routing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

from videosynth.domain.catalog import PUBLIC_MODELS, ServedLimit
from videosynth.domain.errors import ModelNotFound
from videosynth.domain.plan import longest_duration

Arch = Literal["wan2.1", "wan2.2-ti2v", "wan2.2-a14b", "wan2.1-i2v", "wan2.2-i2v-a14b"]
Memory = Literal["gpu", "model_offload", "sequential_offload"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
ARCHS: tuple[str, ...] = get_args(Arch)
TWO_EXPERT_ARCHS: tuple[str, ...] = ("wan2.2-a14b", "wan2.2-i2v-a14b")  # `transformer` and `transformer_2`
# Image-to-video checkpoints (WanImageToVideoPipeline): a first frame is required. Wan2.2-TI2V takes one or none.
I2V_ARCHS: tuple[str, ...] = ("wan2.1-i2v", "wan2.2-i2v-a14b")
IMAGE_ARCHS: tuple[str, ...] = (*I2V_ARCHS, "wan2.2-ti2v")
MEMORY_MODES: tuple[str, ...] = get_args(Memory)
DTYPES: tuple[str, ...] = get_args(Dtype)
VaeDtype = Literal["float32", "bfloat16", "float16"]
VAE_DTYPES: tuple[str, ...] = get_args(VaeDtype)
DEMO_PREFIX = "demo:"  # checkpoint "demo:<arch>": a tiny random-weight model built on first use
WAN_BACKEND = "wan"  # local Wan weights through diffusers: the backend of an entry that names none

Size = tuple[int, int]  # (width, height)


class RegistryError(ValueError):
    """The registry file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class ArchDefaults:
    """What an architecture needs and what its published configs use, for keys an entry leaves out."""

    fps: int
    steps: int
    guidance_scale: float
    guidance_scale_2: float | None
    spatial_multiple: int  # VAE spatial compression × transformer patch: 8×2 (Wan2.1 VAE) or 16×2 (Wan2.2 VAE)
    temporal_factor: int  # VAE temporal compression: frames are k·4 + 1


# Wan-Video's own configs (wan/configs/*.py in Wan2.1 and Wan2.2): sample_fps, sample_steps, sample_guide_scale.
# flow_shift is not here: by default the checkpoint's scheduler keeps the shift it was saved with.
ARCH_DEFAULTS: dict[str, ArchDefaults] = {
    "wan2.1": ArchDefaults(16, 50, 5.0, None, 16, 4),
    "wan2.2-ti2v": ArchDefaults(24, 50, 5.0, None, 32, 4),
    # t2v_A14B.sample_guide_scale = (3.0, 4.0) is (low noise, high noise); diffusers' guidance_scale drives
    # `transformer` (high noise), guidance_scale_2 drives `transformer_2` (low noise).
    "wan2.2-a14b": ArchDefaults(16, 40, 4.0, 3.0, 16, 4),
    # i2v_14B (Wan2.1): 40 steps, guide 5.0; i2v_A14B (Wan2.2): 40 steps, guide (3.5, 3.5), boundary 0.900.
    "wan2.1-i2v": ArchDefaults(16, 40, 5.0, None, 16, 4),
    "wan2.2-i2v-a14b": ArchDefaults(16, 40, 3.5, 3.5, 16, 4),
}


class ModelEntry(Protocol):
    """What every ``[models.<name>]`` entry has, whichever backend serves it; each backend has its own type."""

    @property
    def name(self) -> str: ...

    @property
    def backend(self) -> str:
        """The backend that serves the entry (``backends.factories`` builds it)."""
        ...

    @property
    def description(self) -> str: ...

    @property
    def duration_limit(self) -> ServedLimit | None:
        """The longest clip the entry can make and why, when it has such a cap (checked at create)."""
        ...

    @property
    def table_sizes_only(self) -> bool:
        """Whether the entry makes only the model's official size table (an upstream's rule), not any WxH."""
        ...


@dataclass(frozen=True)
class WanEntry:
    """An entry served by the wan backend: one checkpoint and its generation defaults."""

    name: str
    checkpoint: str  # a diffusers folder, a hub id (in the local cache), or "demo:<arch>"
    arch: Arch
    fps: int
    steps: int
    guidance_scale: float
    guidance_scale_2: float | None = None  # A14B only: the low-noise expert's guidance
    boundary_ratio: float | None = None  # A14B only; None: the checkpoint's (0.875 for Wan2.2-T2V-A14B)
    flow_shift: float | None = None  # None: the checkpoint's scheduler as saved
    flow_shift_by_size: Mapping[Size, float] = field(default_factory=dict)  # native size → shift used near it
    spatial_multiple: int = 16
    temporal_factor: int = 4
    max_pixels: int | None = None  # None: the largest native size, or no cap when none is listed
    max_frames: int | None = None
    native_sizes: tuple[Size, ...] = ()
    max_sequence_length: int = 512
    memory: Memory = "gpu"
    vae_tiling: bool = False
    dtype: Dtype = "auto"
    # Generation speed (issue 14): the fast mode's first-block cache threshold (None: exact) and torch.compile.
    fast_cache_threshold: float | None = None
    compile: bool = False
    ulysses_degree: int = 1  # >1: split each video across this many GPUs (one torch.distributed rank each)
    # MagCache (fast mode, not exact): on when the checkpoint's magnitude ratios are given (`models calibrate`).
    mag_cache_ratios: tuple[float, ...] = ()
    mag_cache_threshold: float = 0.06
    fp8_weights: bool = False  # transformer weights stored in float8_e4m3fn, computed in `dtype` (not exact)
    vae_dtype: VaeDtype = "float32"  # bfloat16/float16: a faster decode, a few levels of rounding (not exact)
    vae_channels_last: bool = False  # channels_last_3d layout for the VAE's 3-D convolutions
    description: str = ""

    @property
    def backend(self) -> str:
        return WAN_BACKEND

    @property
    def is_demo(self) -> bool:
        return self.checkpoint.startswith(DEMO_PREFIX)

    @property
    def pixel_cap(self) -> int | None:
        """The cap on generated width × height: explicit, else the largest native size (frames are resized up)."""
        if self.max_pixels is not None:
            return self.max_pixels
        return max((w * h for w, h in self.native_sizes), default=None)

    @property
    def longest_duration(self) -> int | None:
        """The longest whole-second clip this entry makes at its fps within ``max_frames``; None: no cap."""
        if self.max_frames is None:
            return None
        return longest_duration(self.fps, self.max_frames, self.temporal_factor)

    @property
    def table_sizes_only(self) -> bool:
        return False  # local frames are resized to any even WxH

    @property
    def duration_limit(self) -> ServedLimit | None:
        longest = self.longest_duration
        if longest is None:
            return None
        return ServedLimit(
            longest, f"the checkpoint serving it makes at most {self.max_frames} frames at {self.fps} fps"
        )

    def flow_shift_for(self, width: int, height: int) -> float | None:
        """The shift for a generation: that of the native size nearest in area (Wan2.1: 3.0 at 480P, 5.0 at 720P)."""
        if not self.flow_shift_by_size:
            return self.flow_shift
        nearest = min(self.native_sizes, key=lambda s: (abs(math.log(s[0] * s[1] / (width * height))), s))
        return self.flow_shift_by_size.get(nearest, self.flow_shift)


@dataclass(frozen=True)
class Registry:
    source: str  # the file it came from, for messages
    models: Mapping[str, ModelEntry]
    aliases: Mapping[str, str]  # public name → entry name
    default: str | None = None  # entry for public names not in aliases

    def entry_for(self, name: str) -> ModelEntry:
        """The entry serving ``name``: a public name (alias, else the default) or an entry's own name."""
        target = self.aliases.get(name)
        if target is None and name in self.models:
            target = name
        if target is None and name in PUBLIC_MODELS:
            target = self.default
        if target is None:
            raise ModelNotFound()
        return self.models[target]

    def default_entry(self) -> ModelEntry:
        """The entry a worker loads when told no model: the default, else the first alias target."""
        name = self.default or next(iter(self.aliases.values()), None) or next(iter(self.models), None)
        if name is None:
            raise RegistryError(f"{self.source}: no models configured")
        return self.models[name]

    def public_names_for(self, entry_name: str) -> tuple[str, ...]:
        """Every public name routed to ``entry_name`` (what a worker serving it should claim)."""
        return tuple(name for name in PUBLIC_MODELS if self._target(name) == entry_name)

    def served_entries(self) -> tuple[str, ...]:
        """Entries some public name reaches, in file order."""
        reached = {self._target(name) for name in PUBLIC_MODELS}
        return tuple(name for name in self.models if name in reached)

    def _target(self, public_name: str) -> str | None:
        return self.aliases.get(public_name, self.default)


def parse_arch(value: str, source: str, where: str) -> Arch:
    if value not in ARCHS:
        raise RegistryError(f"{source}: {where} must be one of {', '.join(ARCHS)}, got {value!r}")
    return value  # type: ignore[return-value]  # checked against the Literal's members just above


def wan_entry(entry: ModelEntry) -> WanEntry:
    """``entry`` as the wan entry it must be for a caller that loads a checkpoint."""
    if not isinstance(entry, WanEntry):
        raise RegistryError(f"model {entry.name!r} is served by the {entry.backend!r} backend, not by wan")
    return entry


def demo_arch(entry: WanEntry) -> Arch:
    return parse_arch(entry.checkpoint.removeprefix(DEMO_PREFIX), "?", f"[models.{entry.name!r}] checkpoint")


def format_size(size: Size) -> str:
    return f"{size[0]}*{size[1]}"
