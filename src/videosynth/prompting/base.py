"""What prompt extension hands the worker, and the two seams behind it.

``PromptExtender`` is what the worker calls: it never raises and always says which prompt to generate
from. ``Rewriter`` is what a provider (an OpenAI-compatible endpoint, a local chat model) implements: one
chat turn, system prompt + user prompt in, text out; it raises ``RewriteTimeoutError``/``RewriteError``
and knows nothing of checks, fallbacks or caching (those live in ``extender.py``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

ExtensionStatus = Literal["extended", "disabled", "fallback"]
Language = Literal["zh", "en"]


@dataclass(frozen=True)
class ExtensionOutcome:
    """The result of one extension attempt.

    ``prompt`` is what the model generates from: the rewrite when ``status == "extended"``, else the
    user's prompt. ``actual_prompt`` is set only on a successful rewrite (it becomes
    ``output.actual_prompt``). ``reason`` says why there was no rewrite (``None`` when extended), e.g.
    ``"timeout after 30.0 s"``, ``"provider error: HTTP 500"``, ``"empty answer"``, ``"refusal"``,
    ``"echo of instructions"``, ``"too long"`` (the full list: ``extender.py`` and ``check.py``).
    ``cached`` is true when the rewrite came from the cache (``elapsed_s`` is then the lookup's time).
    """

    prompt: str
    actual_prompt: str | None
    status: ExtensionStatus
    reason: str | None
    provider: str
    model: str | None
    elapsed_s: float
    language: Language | None = None
    cached: bool = False

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-safe (``elapsed_s`` rounded to ms): for the task's ``extension`` record."""
        data = asdict(self)
        data["elapsed_s"] = round(self.elapsed_s, 3)
        return data


class PromptExtender(Protocol):
    def extend(self, prompt: str) -> ExtensionOutcome:
        """The prompt to generate from. Never raises: any failure is a ``fallback`` to ``prompt``."""
        ...


class RewriteError(Exception):
    """The provider failed; ``str(error)`` is a short, secret-free detail such as ``"HTTP 500"``."""


class RewriteTimeoutError(Exception):
    """The provider did not answer within its time limit."""


class Rewriter(Protocol):
    """One provider: a chat model reached one way or another."""

    @property
    def provider(self) -> str:
        """``"openai"`` or ``"local"`` (the settings value)."""
        ...

    @property
    def model(self) -> str:
        """Model name (openai) or folder (local); part of the cache key."""
        ...

    @property
    def timeout_s(self) -> float: ...

    def rewrite(self, system_prompt: str, prompt: str) -> str:
        """The model's raw answer to one chat turn, within ``timeout_s``.

        Raises ``RewriteTimeoutError`` past the time limit and ``RewriteError`` on any other failure."""
        ...
