"""The model registry: which checkpoint serves each public model name, with its generation defaults (design.md §4).

A TOML file (``VIDEOSYNTH_MODEL_REGISTRY``; default: ``videosynth/registry.toml``, shipped with the package) lists
entries under ``[models.<name>]`` and points public DashScope names at them under ``[aliases]``; ``default``
catches every public name not listed. An entry's ``backend`` (default ``wan``) says what serves it and which keys
the entry takes. Pure: tomllib and dataclasses, no torch, so the API side may read it too.
"""

from videosynth.registry.describe import describe
from videosynth.registry.legacy import apply_settings, detect_arch, registry_for_settings
from videosynth.registry.load import ENTRY_PARSERS, load_registry, parse_registry
from videosynth.registry.model import (
    ARCH_DEFAULTS,
    ARCHS,
    DEMO_PREFIX,
    DTYPES,
    I2V_ARCHS,
    IMAGE_ARCHS,
    MEMORY_MODES,
    TWO_EXPERT_ARCHS,
    WAN_BACKEND,
    Arch,
    ArchDefaults,
    Dtype,
    Memory,
    ModelEntry,
    Registry,
    RegistryError,
    Size,
    WanEntry,
    demo_arch,
    format_size,
    wan_entry,
)
from videosynth.registry.relay_entry import RELAY_BACKEND, RelayEntry, relay_entry
from videosynth.registry.served import served_models

__all__ = [
    "ARCHS",
    "ARCH_DEFAULTS",
    "DEMO_PREFIX",
    "DTYPES",
    "ENTRY_PARSERS",
    "I2V_ARCHS",
    "IMAGE_ARCHS",
    "MEMORY_MODES",
    "RELAY_BACKEND",
    "TWO_EXPERT_ARCHS",
    "WAN_BACKEND",
    "Arch",
    "ArchDefaults",
    "Dtype",
    "Memory",
    "ModelEntry",
    "Registry",
    "RegistryError",
    "RelayEntry",
    "Size",
    "WanEntry",
    "apply_settings",
    "demo_arch",
    "describe",
    "detect_arch",
    "format_size",
    "load_registry",
    "parse_registry",
    "registry_for_settings",
    "relay_entry",
    "served_models",
    "wan_entry",
]
