"""Checked reading of TOML values for the registry parsers; every error names the file and the key."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from videosynth.registry.model import RegistryError

_KIND_NAMES = {
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    dict: "a table",
    list: "a list",
}


def typed(value: Any, kind: type, source: str, where: str) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)  # TOML writes 5 for 5.0; accept it
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise RegistryError(f"{source}: {where} must be {_KIND_NAMES[kind]}, got {value!r}")
    return value


def typed_keys(body: Mapping[str, Any], kinds: Mapping[str, type], source: str, where: str) -> dict[str, Any]:
    """The keys of ``kinds`` present in ``body``, each checked against its type."""
    return {key: typed(body[key], kind, source, f"{where} {key}") for key, kind in kinds.items() if key in body}


def table(value: Any, source: str, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RegistryError(f"{source}: {where} must be a table")
    return value


def only_keys(body: Mapping[str, Any], allowed: Iterable[str], source: str, where: str) -> None:
    allowed = set(allowed)
    if unknown := sorted(set(body) - allowed):
        raise RegistryError(
            f"{source}: {where} has unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})"
        )


# Keys every [models.<name>] entry may have, whatever its backend; each backend's parser adds its own.
COMMON_ENTRY_KEYS: Mapping[str, type] = {"backend": str, "description": str}
