"""A ``backend = "wan"`` entry (the default): one checkpoint and its generation defaults, filled from its arch."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videosynth.registry.fields import COMMON_ENTRY_KEYS, only_keys, typed, typed_keys
from videosynth.registry.model import (
    ARCH_DEFAULTS,
    DEMO_PREFIX,
    DTYPES,
    MEMORY_MODES,
    TWO_EXPERT_ARCHS,
    VAE_DTYPES,
    ArchDefaults,
    RegistryError,
    Size,
    WanEntry,
    format_size,
    parse_arch,
)

WAN_KEYS: Mapping[str, type] = {
    "checkpoint": str,
    "arch": str,
    "fps": int,
    "steps": int,
    "guidance_scale": float,
    "guidance_scale_2": float,
    "boundary_ratio": float,
    "flow_shift": float,
    "flow_shift_by_size": dict,
    "spatial_multiple": int,
    "temporal_factor": int,
    "max_pixels": int,
    "max_frames": int,
    "native_sizes": list,
    "max_sequence_length": int,
    "memory": str,
    "vae_tiling": bool,
    "dtype": str,
    "fast_cache_threshold": float,
    "compile": bool,
    "ulysses_degree": int,
    "vae_dtype": str,
    "fp8_weights": bool,
    "mag_cache_ratios": list,
    "mag_cache_threshold": float,
    "vae_channels_last": bool,
}
# Above this the first-block cache skips so many steps that frames drift visibly (bench/quality.py's gate).
MAX_FAST_CACHE_THRESHOLD = 0.1
MAX_MAG_CACHE_THRESHOLD = 0.2  # MagCache's published settings stay well under it


def parse_wan_entry(name: str, body: Mapping[str, Any], source: str) -> WanEntry:
    where = f"[models.{name!r}]"
    only_keys(body, {*COMMON_ENTRY_KEYS, *WAN_KEYS}, source, where)
    values = typed_keys(body, WAN_KEYS, source, where)
    values.update(typed_keys(body, {"description": str}, source, where))
    if "checkpoint" not in values:
        raise RegistryError(f"{source}: {where} needs a checkpoint (a folder, a hub id, or 'demo:<arch>')")
    checkpoint = values["checkpoint"]
    implied = checkpoint.removeprefix(DEMO_PREFIX) if checkpoint.startswith(DEMO_PREFIX) else None
    arch = parse_arch(values.pop("arch", implied or "wan2.1"), source, f"{where} arch")
    if implied is not None and parse_arch(implied, source, f"{where} checkpoint") != arch:
        raise RegistryError(f"{source}: {where} checkpoint {checkpoint!r} contradicts arch {arch!r}")
    base = ARCH_DEFAULTS[arch]
    values.setdefault("fps", base.fps)
    values.setdefault("steps", base.steps)
    values.setdefault("guidance_scale", base.guidance_scale)
    values.setdefault("spatial_multiple", base.spatial_multiple)
    values.setdefault("temporal_factor", base.temporal_factor)
    if arch in TWO_EXPERT_ARCHS:
        values.setdefault("guidance_scale_2", base.guidance_scale_2)
    values["mag_cache_ratios"] = tuple(
        typed(r, float, source, f"{where} mag_cache_ratios") for r in values.get("mag_cache_ratios", ())
    )
    values["native_sizes"] = tuple(_size(s, source, f"{where} native_sizes") for s in values.get("native_sizes", ()))
    shifts = values.get("flow_shift_by_size", {})
    values["flow_shift_by_size"] = {
        _size(k, source, f"{where} flow_shift_by_size"): typed(v, float, source, f"{where} flow_shift_by_size {k!r}")
        for k, v in shifts.items()
    }
    entry = WanEntry(name=name, arch=arch, **values)
    _check_entry(entry, base, source, where)
    return entry


def _check_entry(entry: WanEntry, base: ArchDefaults, source: str, where: str) -> None:
    problem = _value_problem(entry) or _shape_problem(entry, base)
    if problem:
        raise RegistryError(f"{source}: {where} {problem}")


def _value_problem(entry: WanEntry) -> str | None:
    for key in ("fps", "steps", "max_sequence_length", "ulysses_degree"):
        if getattr(entry, key) < 1:
            return f"{key} must be ≥ 1, got {getattr(entry, key)}"
    if entry.guidance_scale < 0 or (entry.guidance_scale_2 or 0) < 0:
        return "guidance scales must be ≥ 0"
    if entry.arch not in TWO_EXPERT_ARCHS and (entry.guidance_scale_2 is not None or entry.boundary_ratio is not None):
        experts = " or ".join(TWO_EXPERT_ARCHS)
        return f"guidance_scale_2 and boundary_ratio need two experts (arch {experts}), not {entry.arch}"
    if entry.boundary_ratio is not None and not 0 < entry.boundary_ratio <= 1:
        return f"boundary_ratio must be in (0, 1], got {entry.boundary_ratio}"
    shifts = [*entry.flow_shift_by_size.values(), *([] if entry.flow_shift is None else [entry.flow_shift])]
    if any(shift <= 0 for shift in shifts):
        return "flow shifts must be > 0"
    if entry.memory not in MEMORY_MODES:
        return f"memory must be one of {', '.join(MEMORY_MODES)}, got {entry.memory!r}"
    if entry.dtype not in DTYPES:
        return f"dtype must be one of {', '.join(DTYPES)}, got {entry.dtype!r}"
    if entry.vae_dtype not in VAE_DTYPES:
        return f"vae_dtype must be one of {', '.join(VAE_DTYPES)}, got {entry.vae_dtype!r}"
    return _speed_problem(entry)


def _speed_problem(entry: WanEntry) -> str | None:
    """The speed knobs (README: Generation speed): in range, and only in combinations that work."""
    threshold = entry.fast_cache_threshold
    if threshold is not None and not 0 < threshold <= MAX_FAST_CACHE_THRESHOLD:
        return f"fast_cache_threshold must be in (0, {MAX_FAST_CACHE_THRESHOLD:g}] (not offered above), got {threshold}"
    if threshold is not None and entry.compile:
        # The cache decides per step in Python (a graph break inside the compiled blocks).
        return "fast_cache_threshold and compile do not combine; choose one"
    if entry.fp8_weights and entry.compile:
        return "fp8_weights and compile do not combine (its casts run as hooks around every layer); choose one"
    return _mag_cache_problem(entry) if entry.mag_cache_ratios else None


def _mag_cache_problem(entry: WanEntry) -> str | None:
    if any(ratio <= 0 for ratio in entry.mag_cache_ratios):
        return "mag_cache_ratios must all be > 0"
    if not 0 < entry.mag_cache_threshold <= MAX_MAG_CACHE_THRESHOLD:
        return f"mag_cache_threshold must be in (0, {MAX_MAG_CACHE_THRESHOLD:g}], got {entry.mag_cache_threshold}"
    if entry.fast_cache_threshold is not None or entry.compile:
        return "mag_cache_ratios do not combine with fast_cache_threshold or compile; choose one"
    if entry.arch in TWO_EXPERT_ARCHS:
        # Each expert would count only its own share of the steps, and its cache would never come round.
        return f"MagCache needs one transformer; arch {entry.arch} has two experts"
    return None


def _shape_problem(entry: WanEntry, base: ArchDefaults) -> str | None:
    multiple = entry.spatial_multiple
    if multiple < 1 or multiple % base.spatial_multiple:
        return f"spatial_multiple must be a multiple of {base.spatial_multiple} for {entry.arch}, got {multiple}"
    if entry.temporal_factor < 1 or entry.temporal_factor % base.temporal_factor:
        return f"temporal_factor must be a multiple of {base.temporal_factor} for {entry.arch}"
    for width, height in entry.native_sizes:
        if width % multiple or height % multiple:
            return f"native size {width}*{height} is not a multiple of spatial_multiple {multiple}"
    if unknown := set(entry.flow_shift_by_size) - set(entry.native_sizes):
        return f"flow_shift_by_size lists sizes that are not native_sizes: {', '.join(format_size(s) for s in unknown)}"
    if entry.max_pixels is not None and entry.max_pixels < multiple**2:
        return f"max_pixels must be ≥ {multiple**2} (one {multiple}px cell)"
    if entry.max_frames is not None and (entry.max_frames < 1 or (entry.max_frames - 1) % entry.temporal_factor):
        return f"max_frames must be k·{entry.temporal_factor}+1, got {entry.max_frames}"
    return None


def _size(value: Any, source: str, where: str) -> Size:
    """ "W*H" (DashScope's and Wan's own notation: width first)."""
    parts = value.split("*") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise RegistryError(f'{source}: {where} sizes are written "W*H", e.g. "832*480"; got {value!r}')
    return int(parts[0]), int(parts[1])
