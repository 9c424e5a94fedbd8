"""Building the worker's ``PromptExtender`` from settings, and describing it in one line."""

from __future__ import annotations

from videosynth.prompting.base import PromptExtender, Rewriter
from videosynth.prompting.cache import ExtensionCache, LruCache
from videosynth.prompting.extender import NoExtension, RewritingExtender
from videosynth.settings import Settings


class ExtensionConfigError(ValueError):
    """The prompt-extension settings cannot work (e.g. a provider without a model)."""


def build_rewriter(settings: Settings) -> Rewriter | None:
    """The configured provider, or ``None`` when extension is off. Nothing is loaded or contacted yet."""
    provider = settings.prompt_extend_provider
    if provider == "none":
        return None
    model = settings.prompt_extend_model
    if not model:
        raise ExtensionConfigError(
            f"VIDEOSYNTH_PROMPT_EXTEND_PROVIDER={provider} needs VIDEOSYNTH_PROMPT_EXTEND_MODEL "
            + ("(a chat model name)" if provider == "openai" else "(a model folder)")
        )
    timeout_s = settings.prompt_extend_timeout_s
    if provider == "openai":
        from videosynth.prompting.openai_compat import OpenAICompatRewriter

        key = settings.prompt_extend_api_key
        return OpenAICompatRewriter(
            model=model,
            base_url=settings.prompt_extend_base_url,
            api_key=key.get_secret_value() if key is not None else None,
            timeout_s=timeout_s,
        )
    from videosynth.prompting.local import LocalChatRewriter

    return LocalChatRewriter(model, timeout_s=timeout_s, device=settings.device, dtype=settings.dtype)


def build_extender(settings: Settings, cache: ExtensionCache | None = None) -> PromptExtender:
    """``NoExtension`` when the provider is ``none``; else the provider wrapped with checks, fallback,
    cache (``cache``, default an in-process LRU) and logging.

    Raises ``ExtensionConfigError`` on unusable settings."""
    rewriter = build_rewriter(settings)
    if rewriter is None:
        return NoExtension()
    return RewritingExtender(rewriter, cache=cache if cache is not None else LruCache())


def describe(settings: Settings) -> str:
    """One line for /readyz and the README; never contains the API key."""
    provider = settings.prompt_extend_provider
    if provider == "none":
        return "prompt extension off"
    model = settings.prompt_extend_model
    timeout = f"timeout {settings.prompt_extend_timeout_s:g} s"
    if not model:
        return f"prompt extension misconfigured: provider {provider} without a model"
    if provider == "openai":
        url = settings.prompt_extend_base_url or "the default OpenAI endpoint"
        return f"prompt extension: openai-compatible {url} model {model}, {timeout}"
    return f"prompt extension: local model {model}, {timeout}"


def preload(extender: PromptExtender) -> None:
    """Load a local chat model now (worker start), so the first task does not pay for it. No-op otherwise."""
    if isinstance(extender, RewritingExtender):
        load = getattr(extender.rewriter, "load", None)  # only the local provider holds weights
        if callable(load):
            load()
