"""Each public model's rules as this server can meet them: the catalog's, narrowed by the entry serving it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from videosynth.domain.catalog import PUBLIC_MODELS, ModelSpec
from videosynth.domain.errors import ModelNotFound
from videosynth.registry.model import Registry


def served_models(registry: Registry, catalog: Mapping[str, ModelSpec] = PUBLIC_MODELS) -> dict[str, ModelSpec]:
    """``catalog`` with a ServedLimit on every model whose entry cannot make the model's longest duration, and
    table_sizes_only where the entry makes only the size table (a relay), so a create the worker would have to
    fail is refused up front. Names no entry serves keep their rules as they are."""
    return {name: _served(spec, registry) for name, spec in catalog.items()}


def _served(spec: ModelSpec, registry: Registry) -> ModelSpec:
    try:
        entry = registry.entry_for(spec.name)
    except ModelNotFound:
        return spec
    if entry.table_sizes_only:
        spec = replace(spec, table_sizes_only=True)
    limit = entry.duration_limit
    if limit is None or limit.longest_duration >= max(spec.durations):
        return spec
    return replace(spec, limit=limit)
