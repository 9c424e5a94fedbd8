"""A ``backend = "relay"`` entry: a model served by an upstream DashScope (or a DashScope-compatible relay).

The worker forwards each task to ``{base_url}/api/v1/services/aigc/video-generation/video-synthesis`` with the key
held in the environment variable ``api_key_env`` (the registry names the variable, never the key), polls the
upstream task and stores the mp4 it made. An upstream has no duration cap of ours: its own rules apply.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from videosynth.domain.catalog import ServedLimit
from videosynth.registry.fields import COMMON_ENTRY_KEYS, only_keys, typed_keys
from videosynth.registry.model import ModelEntry, RegistryError

RELAY_BACKEND = "relay"
# The upstream's task id in our task's backend_state, saved right after the submit (its presence: submitted).
UPSTREAM_TASK_STATE_KEY = "upstream_task_id"

RELAY_KEYS: Mapping[str, type] = {
    "base_url": str,
    "api_key_env": str,
    "upstream_model": str,
    "max_concurrency": int,
    "poll_qps": float,
    "deadline_s": float,
    "allow_private": bool,
    "poll_initial_s": float,
    "poll_max_s": float,
    "request_timeout_s": float,
    "download_max_bytes": int,
    "download_timeout_s": float,
}
_REQUIRED = ("base_url", "api_key_env", "upstream_model")


@dataclass(frozen=True)
class RelayEntry:
    """An entry served by the relay backend: where the upstream is, which key and which of its models."""

    name: str
    base_url: str  # the upstream's root, before /api/v1/… (a relay's /wan prefix included)
    api_key_env: str  # the environment variable holding the upstream key (read when the backend is built)
    upstream_model: str  # the upstream's model name, e.g. "wan2.7-t2v"
    # Upstream tasks in flight, across every relay worker (slots in the store); a worker runs one task at a time.
    max_concurrency: int = 1
    # Requests a second to this upstream account (base_url + key), shared by every relay worker through the store:
    # DashScope allows 20 task queries a second per account.
    poll_qps: float = 20.0
    deadline_s: float = 1800.0  # an upstream task not finished this long after its submit fails our task
    allow_private: bool = False  # base_url / video_url on private or loopback addresses (a LAN or test upstream)
    poll_initial_s: float = 1.0  # first wait between polls; doubles (with jitter) up to poll_max_s
    poll_max_s: float = 15.0
    request_timeout_s: float = 30.0  # one upstream HTTP request
    download_max_bytes: int = 512 * 2**20  # largest upstream mp4 accepted
    download_timeout_s: float = 300.0
    description: str = ""

    @property
    def backend(self) -> str:
        return RELAY_BACKEND

    @property
    def duration_limit(self) -> ServedLimit | None:
        return None

    @property
    def table_sizes_only(self) -> bool:
        # The upstream is asked for wan2.7 resolution/ratio or a legacy size: both name only table sizes.
        return True


def parse_relay_entry(name: str, body: Mapping[str, Any], source: str) -> RelayEntry:
    where = f"[models.{name!r}]"
    only_keys(body, {*COMMON_ENTRY_KEYS, *RELAY_KEYS}, source, where)
    values = typed_keys(body, RELAY_KEYS, source, where)
    values.update(typed_keys(body, {"description": str}, source, where))
    for key in _REQUIRED:
        if not values.get(key, "").strip():
            raise RegistryError(f"{source}: {where} needs {key} (a relay entry needs {', '.join(_REQUIRED)})")
    base_url = values["base_url"].rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise RegistryError(f"{source}: {where} base_url must be an http(s) URL, got {values['base_url']!r}")
    if "/api/v1" in base_url:
        raise RegistryError(f"{source}: {where} base_url is the upstream's root, without /api/v1 (got {base_url!r})")
    values["base_url"] = base_url
    env = values["api_key_env"]
    if not env.replace("_", "").isalnum() or env[0].isdigit():
        raise RegistryError(
            f"{source}: {where} api_key_env names an environment variable (e.g. DASHSCOPE_API_KEY), got {env!r}"
        )
    for key in ("max_concurrency", "download_max_bytes"):
        if values.get(key, 1) < 1:
            raise RegistryError(f"{source}: {where} {key} must be ≥ 1, got {values[key]}")
    for key in ("deadline_s", "poll_qps", "poll_initial_s", "poll_max_s", "request_timeout_s", "download_timeout_s"):
        if values.get(key, 1.0) <= 0:
            raise RegistryError(f"{source}: {where} {key} must be > 0, got {values[key]}")
    return RelayEntry(name=name, **values)


def relay_entry(entry: ModelEntry) -> RelayEntry:
    """``entry`` as the relay entry it must be for a caller that builds a relay backend."""
    if not isinstance(entry, RelayEntry):
        raise RegistryError(f"model {entry.name!r} is served by the {entry.backend!r} backend, not by relay")
    return entry


class RelayConfigError(ValueError):
    """The entry's key variable is not set where the key is needed (a relay worker, an API forwarding a cancel)."""


def upstream_key(entry: RelayEntry, environ: Mapping[str, str] | None = None) -> str:
    """The entry's upstream key, from the variable it names; RelayConfigError when that is not set."""
    env = os.environ if environ is None else environ
    key = env.get(entry.api_key_env, "").strip()
    if not key:
        raise RelayConfigError(
            f"model {entry.name!r} is relayed with the key in ${entry.api_key_env}, which is not set "
            "in this process's environment"
        )
    return key
