"""Prompt extension: rewriting a short user prompt into the long, detailed caption Wan models are trained on.

The worker builds one extender at start (``build_extender(settings)``) and calls ``extend(prompt)``
before each generation whose request has ``prompt_extend``; it never raises. Providers (``openai_compat``,
``local``) are imported only when configured, so importing this package needs neither ``openai`` nor
torch/transformers.
"""

from videosynth.prompting.base import ExtensionOutcome, PromptExtender
from videosynth.prompting.cache import CacheKey, ExtensionCache, LruCache
from videosynth.prompting.extender import NoExtension, RewritingExtender
from videosynth.prompting.factory import ExtensionConfigError, build_extender, describe

__all__ = [
    "CacheKey",
    "ExtensionCache",
    "ExtensionConfigError",
    "ExtensionOutcome",
    "LruCache",
    "NoExtension",
    "PromptExtender",
    "RewritingExtender",
    "build_extender",
    "describe",
]
