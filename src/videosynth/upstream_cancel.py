"""Our cancel of a relayed task, forwarded upstream by the API: ``POST {base}/api/v1/tasks/{id}/cancel``.

A task not submitted upstream yet (PENDING here, or RUNNING before its submit) cancels locally as any other. Once
its upstream id is saved, the cancel goes upstream and the client gets the upstream's answer: DashScope cancels
only PENDING tasks, so one the upstream already runs is refused (UnsupportedOperation, its message). A cancel the
upstream accepted ends our task CANCELED when its relay worker next polls the upstream task. The API process
needs the entry's key variable for this; without it a running relayed task's cancel is refused as a local one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx

from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.domain.errors import ModelNotFound, ServiceUnavailable, UnsupportedOperation
from videosynth.domain.task import Task
from videosynth.registry import Registry, RelayEntry
from videosynth.registry.relay_entry import UPSTREAM_TASK_STATE_KEY, RelayConfigError, upstream_key

log = logging.getLogger(__name__)

CANCEL_PATH = "/api/v1/tasks/{task_id}/cancel"
_MESSAGE_LIMIT = 500


class UpstreamCancels:
    """The relay entries (with their keys) this API process can forward a cancel to, by public model name."""

    def __init__(
        self, routes: Mapping[str, tuple[RelayEntry, str]], transport: httpx.BaseTransport | None = None
    ) -> None:
        self._routes = dict(routes)
        self._transport = transport

    @classmethod
    def from_registry(cls, registry: Registry, environ: Mapping[str, str] | None = None) -> UpstreamCancels:
        routes: dict[str, tuple[RelayEntry, str]] = {}
        for name in PUBLIC_MODELS:
            try:
                entry = registry.entry_for(name)
            except ModelNotFound:
                continue
            if not isinstance(entry, RelayEntry):
                continue
            try:
                routes[name] = (entry, upstream_key(entry, environ))
            except RelayConfigError:
                log.warning("relay key not set here: cancels of running tasks stay local", extra={"model": name})
        return cls(routes)

    @property
    def routes(self) -> int:
        """How many public names this process forwards cancels for."""
        return len(self._routes)

    def forwards(self, task: Task) -> bool:
        """Whether ``task`` was submitted to an upstream this process can reach."""
        return task.request.model in self._routes and bool(task.backend_state.get(UPSTREAM_TASK_STATE_KEY))

    def cancel(self, task: Task) -> None:
        """Forward the cancel; returns when the upstream accepted it, raises with its refusal otherwise."""
        entry, key = self._routes[task.request.model]
        upstream_id = str(task.backend_state[UPSTREAM_TASK_STATE_KEY])
        try:
            with httpx.Client(
                base_url=entry.base_url, timeout=entry.request_timeout_s, transport=self._transport
            ) as client:
                response = client.post(
                    CANCEL_PATH.format(task_id=upstream_id), headers={"Authorization": f"Bearer {key}"}
                )
        except httpx.TransportError:
            raise ServiceUnavailable("The upstream could not be reached to cancel the task; retry.") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise ServiceUnavailable(f"The upstream answered HTTP {response.status_code} to the cancel; retry.")
        answer = _json(response)
        code = answer.get("code")
        if response.is_success and not code:
            log.info("relay cancel forwarded", extra={"task_id": task.task_id, "upstream_task_id": upstream_id})
            return
        message = (
            f"The upstream refused the cancel ({code or 'error'}): {answer.get('message') or response.status_code}"
        )
        raise UnsupportedOperation(message.replace(key, "[redacted]")[:_MESSAGE_LIMIT])


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
