"""Reading and validating a registry file; every error names the file and the key."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.registry.model import (
    ARCH_DEFAULTS,
    DEMO_PREFIX,
    DTYPES,
    MEMORY_MODES,
    ArchDefaults,
    ModelEntry,
    Registry,
    RegistryError,
    Size,
    format_size,
    parse_arch,
)


def load_registry(path: Path | None = None) -> Registry:
    """Parse and validate a registry file; ``None`` reads the packaged default."""
    if path is None:
        source = "videosynth/registry.toml (packaged)"
        text = resources.files("videosynth").joinpath("registry.toml").read_text(encoding="utf-8")
    else:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RegistryError(f"{source}: cannot read the model registry ({exc.strerror})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RegistryError(f"{source}: not valid TOML: {exc}") from exc
    return parse_registry(data, source)


def parse_registry(data: Mapping[str, Any], source: str) -> Registry:
    _only_keys(data, {"default", "aliases", "models"}, source, "top level")
    models_table = _table(data.get("models", {}), source, "[models]")
    models = {
        name: _entry(name, _table(body, source, f"[models.{name!r}]"), source) for name, body in models_table.items()
    }
    aliases = {}
    for public, target in _table(data.get("aliases", {}), source, "[aliases]").items():
        where = f"[aliases] {public!r}"
        if public not in PUBLIC_MODELS:
            raise RegistryError(f"{source}: {where} is not a public model name (known: {', '.join(PUBLIC_MODELS)})")
        aliases[public] = _model_ref(target, models, source, where)
    default = data.get("default")
    if default is not None:
        default = _model_ref(default, models, source, "default")
    return Registry(source=source, models=models, aliases=aliases, default=default)


_ENTRY_KEYS = {
    "checkpoint": str,
    "arch": str,
    "description": str,
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
}


def _entry(name: str, body: Mapping[str, Any], source: str) -> ModelEntry:
    where = f"[models.{name!r}]"
    _only_keys(body, set(_ENTRY_KEYS), source, where)
    values = {
        key: _typed(body[key], kind, source, f"{where} {key}") for key, kind in _ENTRY_KEYS.items() if key in body
    }
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
    if arch == "wan2.2-a14b":
        values.setdefault("guidance_scale_2", base.guidance_scale_2)
    values["native_sizes"] = tuple(_size(s, source, f"{where} native_sizes") for s in values.get("native_sizes", ()))
    shifts = values.get("flow_shift_by_size", {})
    values["flow_shift_by_size"] = {
        _size(k, source, f"{where} flow_shift_by_size"): _typed(v, float, source, f"{where} flow_shift_by_size {k!r}")
        for k, v in shifts.items()
    }
    entry = ModelEntry(name=name, arch=arch, **values)
    _check_entry(entry, base, source, where)
    return entry


def _check_entry(entry: ModelEntry, base: ArchDefaults, source: str, where: str) -> None:
    problem = _value_problem(entry) or _shape_problem(entry, base)
    if problem:
        raise RegistryError(f"{source}: {where} {problem}")


def _value_problem(entry: ModelEntry) -> str | None:
    for key in ("fps", "steps", "max_sequence_length"):
        if getattr(entry, key) < 1:
            return f"{key} must be ≥ 1, got {getattr(entry, key)}"
    if entry.guidance_scale < 0 or (entry.guidance_scale_2 or 0) < 0:
        return "guidance scales must be ≥ 0"
    if entry.arch != "wan2.2-a14b" and (entry.guidance_scale_2 is not None or entry.boundary_ratio is not None):
        return f"guidance_scale_2 and boundary_ratio need two experts (arch wan2.2-a14b), not {entry.arch}"
    if entry.boundary_ratio is not None and not 0 < entry.boundary_ratio <= 1:
        return f"boundary_ratio must be in (0, 1], got {entry.boundary_ratio}"
    shifts = [*entry.flow_shift_by_size.values(), *([] if entry.flow_shift is None else [entry.flow_shift])]
    if any(shift <= 0 for shift in shifts):
        return "flow shifts must be > 0"
    if entry.memory not in MEMORY_MODES:
        return f"memory must be one of {', '.join(MEMORY_MODES)}, got {entry.memory!r}"
    if entry.dtype not in DTYPES:
        return f"dtype must be one of {', '.join(DTYPES)}, got {entry.dtype!r}"
    return None


def _shape_problem(entry: ModelEntry, base: ArchDefaults) -> str | None:
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


def _typed(value: Any, kind: type, source: str, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # TOML writes 5 for 5.0; accept it
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RegistryError(f"{source}: {where} must be {_KIND_NAMES[kind]}, got {value!r}")
    return value


_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
    list: "a list",
}


def _table(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RegistryError(f"{source}: {where} must be a table")
    return value


def _only_keys(table: Mapping[str, Any], allowed: Iterable[str], source: str, where: str) -> None:
    allowed = set(allowed)
    if unknown := sorted(set(table) - allowed):
        raise RegistryError(
            f"{source}: {where} has unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


def _model_ref(value: Any, models: Mapping[str, ModelEntry], source: str, where: str) -> str:
    if not isinstance(value, str) or value not in models:
        known = ", ".join(models) or "none"
        raise RegistryError(f"{source}: {where} = {value!r} is not a model in [models] (known: {known})")
    return value


def _size(value: Any, source: str, where: str) -> Size:
    """ "W*H" (DashScope's and Wan's own notation: width first)."""
    parts = value.split("*") if isinstance(value, str) else []
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise RegistryError(f'{source}: {where} sizes are written "W*H", e.g. "832*480"; got {value!r}')
    return int(parts[0]), int(parts[1])
