"""Where successful rewrites are remembered, so a retried task does not pay for (or vary) its extension.

Keyed by (prompt, provider, model). ``ExtensionCache`` is the seam: ``LruCache`` keeps entries in this
process; a persistent implementation (a table, a file) can replace it through
``build_extender(settings, cache=…)``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import NamedTuple, Protocol

from videosynth.prompting.base import ExtensionOutcome


class CacheKey(NamedTuple):
    prompt: str
    provider: str
    model: str


class ExtensionCache(Protocol):
    def get(self, key: CacheKey) -> ExtensionOutcome | None: ...

    def put(self, key: CacheKey, outcome: ExtensionOutcome) -> None: ...


class LruCache:
    """A thread-safe in-process LRU of at most ``max_entries`` outcomes."""

    def __init__(self, max_entries: int = 256) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: OrderedDict[CacheKey, ExtensionOutcome] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: CacheKey) -> ExtensionOutcome | None:
        with self._lock:
            outcome = self._entries.get(key)
            if outcome is not None:
                self._entries.move_to_end(key)
            return outcome

    def put(self, key: CacheKey, outcome: ExtensionOutcome) -> None:
        with self._lock:
            self._entries[key] = outcome
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
