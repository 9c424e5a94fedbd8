"""Which backend serves a registry entry: one factory per ``backend`` name an entry may give.

A backend is one module here plus one line in ``FACTORIES`` (and its entry keys in ``registry``). Each factory
imports its module when called, so a worker loads only the backend it serves: a relay worker never imports the
wan backend, let alone torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client import CollectorRegistry

from videosynth.backends.base import Backend
from videosynth.registry import RELAY_BACKEND, WAN_BACKEND, ModelEntry, relay_entry, wan_entry
from videosynth.settings import Settings

# (settings, entry, the worker's metrics registry for the backend's own metrics)
BackendFactory = Callable[[Settings, ModelEntry, CollectorRegistry | None], Backend]


def _wan(settings: Settings, entry: ModelEntry, _registry: CollectorRegistry | None) -> Backend:
    from videosynth.backends.wan import WanGenerator

    return WanGenerator.from_entry(wan_entry(entry), settings)


def _relay(settings: Settings, entry: ModelEntry, registry: CollectorRegistry | None) -> Backend:
    from videosynth.backends.relay import RelayBackend
    from videosynth.backends.relay_metrics import RelayMetrics
    from videosynth.store.engine import make_engine

    # The store shares the upstream's poll budget and slots with every other relay worker.
    engine = make_engine(settings.resolved_database_url())
    return RelayBackend.from_entry(relay_entry(entry), engine=engine, metrics=RelayMetrics(registry))


FACTORIES: Mapping[str, BackendFactory] = {WAN_BACKEND: _wan, RELAY_BACKEND: _relay}


def build_backend(settings: Settings, entry: ModelEntry, registry: CollectorRegistry | None = None) -> Backend:
    """The backend for ``entry``, loaded and ready (a model is loaded once per worker and stays resident);
    ``registry``: the worker's metrics registry, where a backend with metrics of its own registers them."""
    factory = FACTORIES.get(entry.backend)
    if factory is None:
        raise ValueError(
            f"model {entry.name!r} names backend {entry.backend!r}, which this worker cannot build "
            f"(known: {', '.join(FACTORIES)})"
        )
    return factory(settings, entry, registry)
