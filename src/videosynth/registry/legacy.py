"""Backward compatibility: the single-model ``VIDEOSYNTH_MODEL*`` settings that predate the registry."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from videosynth.registry.load import load_registry
from videosynth.registry.model import ARCH_DEFAULTS, Arch, Registry, WanEntry
from videosynth.settings import DEMO_MODEL, Settings


def registry_for_settings(settings: Settings) -> Registry:
    """The configured registry with the legacy ``VIDEOSYNTH_MODEL*`` settings applied (see :func:`apply_settings`)."""
    return apply_settings(load_registry(settings.model_registry), settings)


def apply_settings(registry: Registry, settings: Settings) -> Registry:
    """Backward compatibility with the single-model settings.

    ``VIDEOSYNTH_MODEL`` other than "demo" replaces the checkpoint of every entry a public name reaches; a demo
    entry so replaced takes the real architecture's defaults (50 steps, no pixel cap), as before the registry.
    ``VIDEOSYNTH_MODEL_STEPS`` and friends override those entries when set to something other than their default
    (compared with the default, not "was it set": the embedded worker receives every setting as a variable).
    """
    overrides = _setting_overrides(settings)
    if settings.model == DEMO_MODEL and not overrides:
        return registry
    models = dict(registry.models)
    for name in registry.served_entries():
        entry = models[name]
        if not isinstance(entry, WanEntry):  # the settings describe a local checkpoint: other backends have none
            continue
        if settings.model != DEMO_MODEL:
            entry = _with_checkpoint(entry, settings.model)
        models[name] = replace(entry, **overrides)
    return replace(registry, models=models)


def detect_arch(checkpoint: str | Path) -> Arch | None:
    """The architecture of a local diffusers folder from its config files; None if it is not a local folder."""
    folder = Path(checkpoint)
    index_file = folder / "model_index.json"
    if not index_file.is_file():
        return None
    index = json.loads(index_file.read_text(encoding="utf-8"))
    two_experts = index.get("transformer_2", [None])[0] is not None
    if index.get("_class_name") == "WanImageToVideoPipeline" and not index.get("expand_timesteps"):
        return "wan2.2-i2v-a14b" if two_experts else "wan2.1-i2v"
    if two_experts:
        return "wan2.2-a14b"
    if index.get("expand_timesteps"):
        return "wan2.2-ti2v"
    return "wan2.1"


# Settings field → WanEntry field, for the single-model settings that predate the registry.
_LEGACY_FIELDS = {
    "model_steps": "steps",
    "model_guidance_scale": "guidance_scale",
    "model_fps": "fps",
    "model_max_pixels": "max_pixels",
    "model_max_sequence_length": "max_sequence_length",
}


def _setting_overrides(settings: Settings) -> dict[str, Any]:
    overrides = {}
    for setting, key in _LEGACY_FIELDS.items():
        value = getattr(settings, setting)
        if value is not None and value != Settings.model_fields[setting].default:
            overrides[key] = value
    return overrides


def _with_checkpoint(entry: WanEntry, checkpoint: str) -> WanEntry:
    arch = detect_arch(checkpoint) or entry.arch
    if not entry.is_demo and arch == entry.arch:
        return replace(entry, checkpoint=checkpoint)
    # A demo entry's tiny-model settings (4 steps, 64×64 cap) would cripple a real checkpoint: start from the
    # architecture's published defaults instead, keeping the operator's memory and dtype choices.
    base = ARCH_DEFAULTS[arch]
    return WanEntry(
        name=entry.name,
        checkpoint=checkpoint,
        arch=arch,
        fps=base.fps,
        steps=base.steps,
        guidance_scale=base.guidance_scale,
        guidance_scale_2=base.guidance_scale_2,
        spatial_multiple=base.spatial_multiple,
        temporal_factor=base.temporal_factor,
        memory=entry.memory,
        vae_tiling=entry.vae_tiling,
        dtype=entry.dtype,
        description=f"from VIDEOSYNTH_MODEL={checkpoint}",
    )
