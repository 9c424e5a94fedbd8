"""Turning a ``Rewriter`` into a ``PromptExtender``: language, checks, fallback, cache and one log line.

Only successful rewrites are cached: after a timeout or an outage the next task tries again rather than
pinning the prompt to its original form. Nothing is raised; the worker always gets a prompt to generate from.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace

from videosynth.prompting.base import (
    ExtensionOutcome,
    Language,
    RewriteError,
    Rewriter,
    RewriteTimeoutError,
)
from videosynth.prompting.cache import CacheKey, ExtensionCache
from videosynth.prompting.check import check_rewrite, clean_answer
from videosynth.prompting.language import prompt_language
from videosynth.prompting.system_prompts import instructions_for, system_prompt_for

logger = logging.getLogger("videosynth.prompting")

_LEVELS = {"extended": logging.INFO, "fallback": logging.WARNING, "disabled": logging.DEBUG}


def log_outcome(outcome: ExtensionOutcome, original: str) -> None:
    """One line naming the outcome and its reason; the prompt texts are not logged, only their lengths."""
    fields = outcome.to_dict()
    del fields["prompt"], fields["actual_prompt"]
    fields["prompt_chars"] = len(original)
    fields["actual_prompt_chars"] = len(outcome.actual_prompt) if outcome.actual_prompt is not None else None
    logger.log(_LEVELS[outcome.status], "prompt extension %s", json.dumps(fields, ensure_ascii=False))


class NoExtension:
    """Prompts are used as given: no provider is configured, or the request has ``prompt_extend: false``."""

    def __init__(self, reason: str = "no provider configured") -> None:
        self._reason = reason

    def extend(self, prompt: str) -> ExtensionOutcome:
        outcome = ExtensionOutcome(
            prompt=prompt, actual_prompt=None, status="disabled", reason=self._reason,
            provider="none", model=None, elapsed_s=0.0,
        )  # fmt: skip
        log_outcome(outcome, prompt)
        return outcome


class RewritingExtender:
    def __init__(
        self,
        rewriter: Rewriter,
        cache: ExtensionCache | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rewriter = rewriter
        self._cache = cache
        self._clock = clock

    @property
    def rewriter(self) -> Rewriter:
        return self._rewriter

    def extend(self, prompt: str) -> ExtensionOutcome:
        start = self._clock()
        key = CacheKey(prompt, self._rewriter.provider, self._rewriter.model)
        hit = self._cache_get(key)
        if hit is not None:
            outcome = replace(hit, elapsed_s=self._clock() - start, cached=True)
        else:
            language = prompt_language(prompt)
            text, reason = self._attempt(prompt, language)
            outcome = ExtensionOutcome(
                prompt=text if reason is None else prompt,
                actual_prompt=text if reason is None else None,
                status="extended" if reason is None else "fallback",
                reason=reason,
                provider=self._rewriter.provider,
                model=self._rewriter.model,
                elapsed_s=self._clock() - start,
                language=language,
            )
            if reason is None:
                self._cache_put(key, outcome)
        log_outcome(outcome, prompt)
        return outcome

    def _attempt(self, prompt: str, language: Language) -> tuple[str, str | None]:
        """(cleaned rewrite, None) or ("", why not)."""
        if not prompt.strip():
            return "", "empty prompt"
        try:
            raw = self._rewriter.rewrite(system_prompt_for(language), prompt)
        except RewriteTimeoutError:
            return "", f"timeout after {self._rewriter.timeout_s:.1f} s"
        except RewriteError as error:
            return "", f"provider error: {error}"
        except Exception as error:  # a provider bug must not fail the video either
            logger.exception("prompt extension provider raised unexpectedly")
            return "", f"provider error: {type(error).__name__}"
        text = clean_answer(raw)
        reason = check_rewrite(text, prompt, instructions_for(language))
        return (text, None) if reason is None else ("", reason)

    def _cache_get(self, key: CacheKey) -> ExtensionOutcome | None:
        if self._cache is None:
            return None
        try:
            return self._cache.get(key)
        except Exception:  # a persistent cache that fails is a miss, not a failed task
            logger.exception("prompt extension cache lookup failed")
            return None

    def _cache_put(self, key: CacheKey, outcome: ExtensionOutcome) -> None:
        if self._cache is None:
            return
        try:
            self._cache.put(key, outcome)
        except Exception:
            logger.exception("prompt extension cache store failed")
