"""Reading and validating a registry file; every error names the file and the key."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.registry.fields import only_keys, table, typed
from videosynth.registry.model import WAN_BACKEND, ModelEntry, Registry, RegistryError
from videosynth.registry.relay_entry import RELAY_BACKEND, parse_relay_entry
from videosynth.registry.wan_entry import parse_wan_entry

# Reads one [models.<name>] table: (name, body, source) → the backend's own entry type.
EntryParser = Callable[[str, Mapping[str, Any], str], ModelEntry]

# Every backend an entry may name, with its parser. A new backend adds its entry type and parser here and its
# factory in backends/factories.py (this layer sits below backends/, and API nodes may read the registry).
ENTRY_PARSERS: Mapping[str, EntryParser] = {WAN_BACKEND: parse_wan_entry, RELAY_BACKEND: parse_relay_entry}


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
    only_keys(data, {"default", "aliases", "models"}, source, "top level")
    models_table = table(data.get("models", {}), source, "[models]")
    models = {
        name: _entry(name, table(body, source, f"[models.{name!r}]"), source) for name, body in models_table.items()
    }
    aliases = {}
    for public, target in table(data.get("aliases", {}), source, "[aliases]").items():
        where = f"[aliases] {public!r}"
        if public not in PUBLIC_MODELS:
            raise RegistryError(f"{source}: {where} is not a public model name (known: {', '.join(PUBLIC_MODELS)})")
        aliases[public] = _model_ref(target, models, source, where)
    default = data.get("default")
    if default is not None:
        default = _model_ref(default, models, source, "default")
    return Registry(source=source, models=models, aliases=aliases, default=default)


def _entry(name: str, body: Mapping[str, Any], source: str) -> ModelEntry:
    where = f"[models.{name!r}] backend"
    backend = typed(body.get("backend", WAN_BACKEND), str, source, where)
    parser = ENTRY_PARSERS.get(backend)
    if parser is None:
        raise RegistryError(f"{source}: {where} must be one of {', '.join(ENTRY_PARSERS)}, got {backend!r}")
    return parser(name, body, source)


def _model_ref(value: Any, models: Mapping[str, ModelEntry], source: str, where: str) -> str:
    if not isinstance(value, str) or value not in models:
        known = ", ".join(models) or "none"
        raise RegistryError(f"{source}: {where} = {value!r} is not a model in [models] (known: {known})")
    return value
