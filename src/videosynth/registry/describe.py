"""The registry as text, for ``videosynth models list``."""

from __future__ import annotations

from videosynth.registry.model import Registry, WanEntry, format_size


def describe(registry: Registry) -> str:
    """Human-readable listing for ``videosynth models list``."""
    lines = [f"model registry: {registry.source}"]
    for name, entry in registry.models.items():
        names = registry.public_names_for(name)
        kind = entry.arch if isinstance(entry, WanEntry) else f"backend {entry.backend}"
        lines += ["", f"{name}  ({kind}{', ' + entry.description if entry.description else ''})"]
        if isinstance(entry, WanEntry):
            lines.append(f"  checkpoint  {entry.checkpoint}")
        lines.append(f"  serves      {', '.join(names) if names else '(no public name points here)'}")
        if isinstance(entry, WanEntry):
            lines.append(f"  sizes       {_sizes_text(entry)}")
            lines.append(f"  defaults    {_defaults_text(entry)}")
    return "\n".join(lines)


def _sizes_text(entry: WanEntry) -> str:
    native = ", ".join(format_size(s) for s in entry.native_sizes)
    cap = entry.pixel_cap
    grid = f"multiples of {entry.spatial_multiple}" + (f" up to {cap} px" if cap else "")
    frames = f"frames k·{entry.temporal_factor}+1" + (f" ≤ {entry.max_frames}" if entry.max_frames else "")
    return f"{'native ' + native + '; ' if native else ''}{grid}; {frames}"


def _defaults_text(entry: WanEntry) -> str:
    guidance = f"{entry.guidance_scale:g}"
    if entry.guidance_scale_2 is not None:
        guidance += f" high / {entry.guidance_scale_2:g} low"
    if entry.flow_shift_by_size:
        by_size = {f"{format_size(s)}={v:g}" for s, v in entry.flow_shift_by_size.items()}
        shift = ", ".join(sorted(by_size)) + (f", else {entry.flow_shift:g}" if entry.flow_shift else "")
    else:
        shift = f"{entry.flow_shift:g}" if entry.flow_shift is not None else "checkpoint's"
    parts = [
        f"{entry.fps} fps",
        f"{entry.steps} steps",
        f"guidance {guidance}",
        f"flow shift {shift}",
    ]
    if entry.boundary_ratio is not None:
        parts.append(f"boundary {entry.boundary_ratio:g}")
    parts += [f"text ≤ {entry.max_sequence_length} tokens", f"memory {entry.memory}"]
    if entry.vae_tiling:
        parts.append("VAE tiling")
    parts.append(f"dtype {entry.dtype}")
    if entry.vae_dtype != "float32" or entry.vae_channels_last:
        layout = " channels_last_3d" if entry.vae_channels_last else ""
        parts.append(f"VAE {entry.vae_dtype}{layout}")
    if entry.fast_cache_threshold is not None:
        parts.append(f"fast mode (first-block cache {entry.fast_cache_threshold:g})")
    if entry.fp8_weights:
        parts.append("FP8 weights")
    if entry.mag_cache_ratios:
        parts.append(f"fast mode (MagCache {entry.mag_cache_threshold:g})")
    if entry.compile:
        parts.append("compiled")
    return " · ".join(parts)
