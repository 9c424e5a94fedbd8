"""The prompt check the service runs before queueing a create: the blocklist first (local, instant), then the
moderation endpoint. A hit is DataInspectionFailed; an endpoint with no answer follows the operator's policy:
``allow`` (fail open: the create goes on) or ``refuse`` (fail closed: ServiceUnavailable, try again later).

Built only when something is configured: with neither a blocklist nor an endpoint the service holds no check at
all, so the create's hot path does not even make a call.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

from videosynth.domain.blocklist import Blocklist
from videosynth.domain.errors import DataInspectionFailed, ServiceUnavailable
from videosynth.safety.metrics import SafetyMetrics
from videosynth.safety.moderation import ModerationEndpoint, ModerationUnavailable
from videosynth.settings import Settings

log = logging.getLogger(__name__)

OnError = Literal["allow", "refuse"]
UNAVAILABLE_MESSAGE = "The content check is unavailable at the moment; please try again later."


class PromptSafety:
    def __init__(self, blocklist: Blocklist | None, moderation: ModerationEndpoint | None, on_error: OnError) -> None:
        self._blocklist = blocklist
        self._moderation = moderation
        self._on_error = on_error
        self._metrics: SafetyMetrics | None = None

    def count_into(self, metrics: SafetyMetrics) -> None:
        """Count every check's outcome from now on (the app's registry exists only once the app is built)."""
        self._metrics = metrics

    async def check(self, prompt: str, negative_prompt: str | None) -> None:
        """Nothing when the prompts may be used; DataInspectionFailed or ServiceUnavailable otherwise."""
        if self._blocklist is not None and self._blocklist.first_hit(prompt, negative_prompt) is not None:
            self._refuse("blocked")
        if self._moderation is not None:
            texts = [text for text in (prompt, negative_prompt) if text]
            try:
                flagged = await self._moderation.flagged(texts)
            except ModerationUnavailable as exc:
                self._unavailable(exc)
                return
            if flagged:
                self._refuse("flagged")
        self._count("passed")

    def _refuse(self, outcome: str) -> None:
        self._count(outcome)
        raise DataInspectionFailed()

    def _unavailable(self, exc: ModerationUnavailable) -> None:
        log.warning("prompt moderation unavailable", extra={"reason": str(exc), "policy": self._on_error})
        if self._on_error == "refuse":
            self._count("unavailable_refused")
            raise ServiceUnavailable(UNAVAILABLE_MESSAGE)
        self._count("unavailable_allowed")

    def _count(self, outcome: str) -> None:
        if self._metrics is not None:
            self._metrics.count(outcome)


def prompt_safety(settings: Settings) -> PromptSafety | None:
    """The check ``settings`` configure, or None (the default: no check). A blocklist file that cannot be read
    fails here, at start-up, not at the first create."""
    blocklist = _read_blocklist(settings.prompt_blocklist) if settings.prompt_blocklist else None
    moderation = None
    if settings.moderation_base_url:
        key = settings.moderation_api_key.get_secret_value() if settings.moderation_api_key else None
        moderation = ModerationEndpoint(
            settings.moderation_base_url, key, settings.moderation_model, settings.moderation_timeout_s
        )
    if blocklist is None and moderation is None:
        return None
    return PromptSafety(blocklist, moderation, settings.moderation_on_error)


def _read_blocklist(path: Path) -> Blocklist:
    return Blocklist.from_lines(path.read_text(encoding="utf-8").splitlines())
