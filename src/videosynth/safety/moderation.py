"""A client of any OpenAI-compatible moderation endpoint: ``POST {base}/moderations`` → ``results[].flagged``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class ModerationUnavailable(Exception):
    """The endpoint could not give an answer (down, slow, an error status or a body of another shape)."""


@dataclass(frozen=True)
class ModerationEndpoint:
    base_url: str
    api_key: str | None
    model: str | None
    timeout_s: float

    async def flagged(self, texts: list[str]) -> bool:
        """Whether the endpoint flags any of ``texts``; ModerationUnavailable when it gives no answer."""
        body: dict[str, Any] = {"input": texts}
        if self.model:
            body["model"] = self.model
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = self.base_url.rstrip("/") + "/moderations"
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, follow_redirects=False) as client:
                response = await client.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ModerationUnavailable(f"moderation request failed: {type(exc).__name__}") from exc
        if not response.is_success:
            raise ModerationUnavailable(f"moderation endpoint answered HTTP {response.status_code}")
        return _any_flagged(response)


def _any_flagged(response: httpx.Response) -> bool:
    try:
        results = response.json()["results"]
        flags = [result["flagged"] for result in results]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModerationUnavailable("moderation endpoint answered an unexpected body") from exc
    if not flags or not all(isinstance(flag, bool) for flag in flags):
        raise ModerationUnavailable("moderation endpoint answered an unexpected body")
    return any(flags)
