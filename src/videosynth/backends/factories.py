"""Which backend serves a registry entry: one factory per ``backend`` name an entry may give.

A backend is one module here plus one line in ``FACTORIES`` (and its entry keys in ``registry``). Each factory
imports its module when called, so a worker loads only the backend it serves: a relay worker never imports the
wan backend, let alone torch.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from videosynth.backends.base import Backend
from videosynth.registry import RELAY_BACKEND, WAN_BACKEND, ModelEntry, relay_entry, wan_entry
from videosynth.settings import Settings

BackendFactory = Callable[[Settings, ModelEntry], Backend]


def _wan(settings: Settings, entry: ModelEntry) -> Backend:
    from videosynth.backends.wan import WanGenerator

    return WanGenerator.from_entry(wan_entry(entry), settings)


def _relay(settings: Settings, entry: ModelEntry) -> Backend:
    from videosynth.backends.relay import RelayBackend

    return RelayBackend.from_entry(relay_entry(entry))


FACTORIES: Mapping[str, BackendFactory] = {WAN_BACKEND: _wan, RELAY_BACKEND: _relay}


def build_backend(settings: Settings, entry: ModelEntry) -> Backend:
    """The backend for ``entry``, loaded and ready (a model is loaded once per worker and stays resident)."""
    factory = FACTORIES.get(entry.backend)
    if factory is None:
        raise ValueError(
            f"model {entry.name!r} names backend {entry.backend!r}, which this worker cannot build "
            f"(known: {', '.join(FACTORIES)})"
        )
    return factory(settings, entry)
