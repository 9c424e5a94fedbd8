"""The extender around a provider: fallbacks, cache, outcome record and the log line (fake providers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from videosynth.prompting import ExtensionOutcome, NoExtension, PromptExtender
from videosynth.prompting.base import RewriteError, RewriteTimeoutError
from videosynth.prompting.cache import CacheKey, LruCache
from videosynth.prompting.extender import RewritingExtender
from videosynth.prompting.system_prompts import SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH

GOOD = "A ginger cat plays a grand piano on a moonlit stage, slow dolly-in, photorealistic."


@dataclass
class FakeRewriter:
    answer: Callable[[str, str], str] = lambda system, prompt: GOOD
    provider: str = "openai"
    model: str = "qwen-plus"
    timeout_s: float = 30.0
    calls: list[tuple[str, str]] = field(default_factory=list)

    def rewrite(self, system_prompt: str, prompt: str) -> str:
        self.calls.append((system_prompt, prompt))
        return self.answer(system_prompt, prompt)


def raising(error: Exception) -> Callable[[str, str], str]:
    def answer(system: str, prompt: str) -> str:
        raise error

    return answer


class Clock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 100.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_success() -> None:
    rewriter = FakeRewriter()
    extender: PromptExtender = RewritingExtender(rewriter, clock=Clock(0.25))

    outcome = extender.extend("a cat playing piano")

    assert outcome == ExtensionOutcome(
        prompt=GOOD, actual_prompt=GOOD, status="extended", reason=None, provider="openai",
        model="qwen-plus", elapsed_s=0.25, language="en", cached=False,
    )  # fmt: skip
    assert rewriter.calls == [(SYSTEM_PROMPT_EN, "a cat playing piano")]


def test_chinese_prompt_uses_the_chinese_system_prompt() -> None:
    rewriter = FakeRewriter(answer=lambda s, p: "一只橘猫在月光下的舞台上弹奏三角钢琴，镜头缓慢推近。")
    outcome = RewritingExtender(rewriter).extend("一只猫在弹钢琴")

    assert outcome.status == "extended" and outcome.language == "zh"
    assert rewriter.calls == [(SYSTEM_PROMPT_ZH, "一只猫在弹钢琴")]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (raising(RewriteTimeoutError()), "timeout after 30.0 s"),
        (raising(RewriteError("HTTP 500")), "provider error: HTTP 500"),
        (raising(RewriteError("HTTP 401")), "provider error: HTTP 401"),
        (raising(ValueError("boom")), "provider error: ValueError"),  # a provider bug never escapes
        (lambda s, p: "", "empty answer"),
        (lambda s, p: "I'm sorry, I can't help with that.", "refusal"),
        (lambda s, p: SYSTEM_PROMPT_EN, "echo of instructions"),
        (lambda s, p: "word " * 2000, "too long"),
        (lambda s, p: p, "unchanged"),
    ],
)
def test_fallbacks(answer: Callable[[str, str], str], reason: str) -> None:
    outcome = RewritingExtender(FakeRewriter(answer=answer)).extend("a cat")

    assert (outcome.status, outcome.reason) == ("fallback", reason)
    assert (outcome.prompt, outcome.actual_prompt) == ("a cat", None)
    assert (outcome.provider, outcome.model) == ("openai", "qwen-plus")


def test_empty_prompt_is_not_sent() -> None:
    rewriter = FakeRewriter()
    outcome = RewritingExtender(rewriter).extend("   ")

    assert (outcome.status, outcome.reason, outcome.prompt) == ("fallback", "empty prompt", "   ")
    assert rewriter.calls == []


def test_cache_hit_skips_the_provider_and_is_marked() -> None:
    rewriter = FakeRewriter()
    cache = LruCache()
    extender = RewritingExtender(rewriter, cache=cache)

    first = extender.extend("a cat")
    second = extender.extend("a cat")

    assert len(rewriter.calls) == 1
    assert second.cached and not first.cached
    assert second.actual_prompt == first.actual_prompt == GOOD
    assert cache.get(CacheKey("a cat", "openai", "qwen-plus")) == first


def test_cache_is_keyed_by_provider_and_model() -> None:
    cache = LruCache()
    RewritingExtender(FakeRewriter(model="a"), cache=cache).extend("a cat")
    other = FakeRewriter(model="b")
    RewritingExtender(other, cache=cache).extend("a cat")
    local = FakeRewriter(provider="local", model="a")
    RewritingExtender(local, cache=cache).extend("a cat")

    assert len(other.calls) == len(local.calls) == 1
    assert len(cache) == 3


def test_fallbacks_are_not_cached() -> None:
    answers = iter([RewriteError("HTTP 500"), None])

    def flaky(system: str, prompt: str) -> str:
        error = next(answers)
        if error is not None:
            raise error
        return GOOD

    rewriter = FakeRewriter(answer=flaky)
    extender = RewritingExtender(rewriter, cache=LruCache())

    assert extender.extend("a cat").status == "fallback"
    assert extender.extend("a cat").status == "extended"
    assert len(rewriter.calls) == 2


class BrokenCache:
    def get(self, key: CacheKey) -> ExtensionOutcome | None:
        raise OSError("disk gone")

    def put(self, key: CacheKey, outcome: ExtensionOutcome) -> None:
        raise OSError("disk gone")


def test_a_failing_cache_is_a_miss() -> None:
    outcome = RewritingExtender(FakeRewriter(), cache=BrokenCache()).extend("a cat")
    assert outcome.status == "extended"


def test_lru_evicts_least_recently_used() -> None:
    cache = LruCache(max_entries=2)
    outcome = NoExtension().extend("x")
    keys = [CacheKey(p, "openai", "m") for p in ("a", "b", "c")]
    cache.put(keys[0], outcome)
    cache.put(keys[1], outcome)
    assert cache.get(keys[0]) is outcome  # "a" is now the most recent
    cache.put(keys[2], outcome)
    assert cache.get(keys[1]) is None
    assert cache.get(keys[0]) is outcome and cache.get(keys[2]) is outcome
    with pytest.raises(ValueError):
        LruCache(max_entries=0)


def test_no_extension() -> None:
    outcome = NoExtension().extend("a cat")
    assert (outcome.prompt, outcome.actual_prompt, outcome.status) == ("a cat", None, "disabled")
    assert (outcome.reason, outcome.provider, outcome.model) == ("no provider configured", "none", None)
    assert NoExtension("prompt_extend is false").extend("a cat").reason == "prompt_extend is false"


def test_to_dict_is_json_safe() -> None:
    outcome = RewritingExtender(FakeRewriter(), clock=Clock(0.0123456)).extend("a cat")
    data = outcome.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data == {
        "prompt": GOOD, "actual_prompt": GOOD, "status": "extended", "reason": None, "provider": "openai",
        "model": "qwen-plus", "elapsed_s": 0.012, "language": "en", "cached": False,
    }  # fmt: skip


def test_one_log_line_per_outcome(caplog: pytest.LogCaptureFixture) -> None:
    extender = RewritingExtender(FakeRewriter(answer=raising(RewriteError("HTTP 500"))))
    with caplog.at_level(logging.DEBUG, logger="videosynth.prompting"):
        extender.extend("a secret cat")
        NoExtension().extend("a secret cat")

    fallback, disabled = caplog.records
    assert fallback.levelno == logging.WARNING and disabled.levelno == logging.DEBUG
    fields = json.loads(fallback.getMessage().removeprefix("prompt extension "))
    assert fields["status"] == "fallback" and fields["reason"] == "provider error: HTTP 500"
    assert fields["prompt_chars"] == len("a secret cat") and fields["actual_prompt_chars"] is None
    assert "secret" not in fallback.getMessage() + disabled.getMessage()
