"""The OpenAI-compatible provider against a real loopback HTTP server started here.

The server checks each request as the real API would (POST /v1/chat/completions, Bearer auth, a JSON body with
``model`` and a ``messages`` list of {role, content}) and answers as the test scripts it: a good rewrite, a
slow answer (timeout), HTTP 500, HTTP 401 (wrong key), an empty answer, a refusal, an echo of the instructions.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("openai")

from tests.support.fake_chat import API_KEY, MODEL, REWRITE, FakeChatServer, Reply, running_chat_server
from tests.support.net import free_port

from videosynth.prompting.base import ExtensionOutcome
from videosynth.prompting.cache import LruCache
from videosynth.prompting.extender import RewritingExtender
from videosynth.prompting.factory import build_extender, describe
from videosynth.prompting.openai_compat import DEFAULT_MAX_TOKENS, OpenAICompatRewriter
from videosynth.prompting.system_prompts import INSTRUCTIONS_EN, SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH
from videosynth.settings import Settings


@pytest.fixture(scope="module")
def chat_server_module() -> Iterator[FakeChatServer]:
    with running_chat_server() as state:
        yield state


@pytest.fixture
def server(chat_server_module: FakeChatServer) -> FakeChatServer:
    chat_server_module.reset()
    return chat_server_module


def _extender(server: FakeChatServer, *, api_key: str | None = API_KEY, timeout_s: float = 5.0) -> RewritingExtender:
    rewriter = OpenAICompatRewriter(MODEL, base_url=server.base_url, api_key=api_key, timeout_s=timeout_s)
    return RewritingExtender(rewriter, cache=LruCache())


def _assert_fallback(outcome: ExtensionOutcome, prompt: str, reason: str) -> None:
    assert outcome.status == "fallback"
    assert outcome.reason == reason
    assert outcome.prompt == prompt
    assert outcome.actual_prompt is None
    assert outcome.provider == "openai"
    assert outcome.model == MODEL


def test_good_rewrite_is_used_and_request_is_what_the_api_expects(server: FakeChatServer) -> None:
    outcome = _extender(server).extend("a cat playing piano on the moon")

    assert outcome.status == "extended"
    assert outcome.reason is None
    assert outcome.prompt == outcome.actual_prompt == REWRITE
    assert (outcome.provider, outcome.model, outcome.language, outcome.cached) == (
        "openai",
        MODEL,
        "en",
        False,
    )
    assert server.hits == 1
    [request] = server.received
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.body["model"] == MODEL
    assert request.body["messages"] == [
        {"role": "system", "content": SYSTEM_PROMPT_EN},
        {"role": "user", "content": "a cat playing piano on the moon"},
    ]
    assert 0 < request.body["max_tokens"] <= DEFAULT_MAX_TOKENS
    assert 0 < request.body["temperature"] <= 1
    assert not request.body.get("stream")


def test_chinese_prompt_gets_the_chinese_system_prompt(server: FakeChatServer) -> None:
    server.reply = Reply(
        content="一只毛发蓬松的橘猫在月球表面弹奏三角钢琴，地球悬在漆黑的天空中，镜头缓慢推近，写实风格。"
    )
    outcome = _extender(server).extend("一只猫在月球上弹钢琴")

    assert outcome.status == "extended"
    assert outcome.language == "zh"
    [request] = server.received
    assert request.body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT_ZH}
    assert request.body["messages"][1] == {"role": "user", "content": "一只猫在月球上弹钢琴"}


def test_timeout_falls_back_within_the_limit(server: FakeChatServer) -> None:
    server.reply = Reply(delay_s=10.0)
    started = time.monotonic()
    outcome = _extender(server, timeout_s=0.5).extend("a cat")
    took = time.monotonic() - started

    _assert_fallback(outcome, "a cat", "timeout after 0.5 s")
    assert 0.4 <= outcome.elapsed_s < 3.0
    assert took < 3.0
    assert server.hits == 1  # no retry behind our back


@pytest.mark.parametrize("status", [500, 503])
def test_server_error_falls_back_without_retry(server: FakeChatServer, status: int) -> None:
    server.reply = Reply(status=status)
    outcome = _extender(server).extend("a cat")

    _assert_fallback(outcome, "a cat", f"provider error: HTTP {status}")
    assert server.hits == 1


def test_wrong_key_is_http_401(server: FakeChatServer) -> None:
    outcome = _extender(server, api_key="sk-wrong").extend("a cat")

    _assert_fallback(outcome, "a cat", "provider error: HTTP 401")
    assert server.received == []  # rejected by auth


def test_missing_key_sends_a_placeholder_bearer_and_is_rejected_here(server: FakeChatServer) -> None:
    outcome = _extender(server, api_key=None).extend("a cat")

    _assert_fallback(outcome, "a cat", "provider error: HTTP 401")
    assert server.hits == 1


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("", "empty answer"),
        (None, "empty answer"),
        ("   \n ", "empty answer"),
        ("<think>The user wants a longer prompt.</think>\n", "empty answer"),
        ("I'm sorry, but I can't help with that request.", "refusal"),
        ("抱歉，我无法完成这个请求。", "refusal"),
        (SYSTEM_PROMPT_EN, "echo of instructions"),
        (INSTRUCTIONS_EN.splitlines()[0], "echo of instructions"),
        ("A cat " + "walks slowly across the frame, " * 200, "too long"),
        ("a cat", "unchanged"),
    ],
)
def test_unusable_answers_fall_back(server: FakeChatServer, content: str | None, reason: str) -> None:
    server.reply = Reply(content=content)
    outcome = _extender(server).extend("a cat")

    _assert_fallback(outcome, "a cat", reason)


def test_wrapping_is_removed_from_a_good_answer(server: FakeChatServer) -> None:
    server.reply = Reply(content=f'<think>\nplan\n</think>\nHere is the rewritten prompt:\n\n"{REWRITE}"')
    outcome = _extender(server).extend("a cat playing piano")

    assert outcome.status == "extended"
    assert outcome.actual_prompt == REWRITE


def test_non_json_answer_is_a_provider_error(server: FakeChatServer) -> None:
    server.reply = Reply(raw_body=b"<html>bad gateway</html>")
    outcome = _extender(server).extend("a cat")

    _assert_fallback(outcome, "a cat", "provider error: malformed answer")


def test_unreachable_endpoint_is_a_connection_error() -> None:
    port = free_port()  # a port nobody listens on
    rewriter = OpenAICompatRewriter(MODEL, base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY, timeout_s=2)
    outcome = RewritingExtender(rewriter).extend("a cat")

    _assert_fallback(outcome, "a cat", "provider error: connection failed")


def test_cache_hit_avoids_a_second_request(server: FakeChatServer) -> None:
    extender = _extender(server)
    first = extender.extend("a cat playing piano")
    second = extender.extend("a cat playing piano")

    assert server.hits == 1
    assert (first.status, first.cached) == ("extended", False)
    assert (second.status, second.cached) == ("extended", True)
    assert second.actual_prompt == first.actual_prompt
    assert second.elapsed_s < 0.1

    extender.extend("a dog playing piano")
    assert server.hits == 2


def test_fallbacks_are_not_cached(server: FakeChatServer) -> None:
    extender = _extender(server)
    server.reply = Reply(status=500)
    assert extender.extend("a cat").status == "fallback"
    server.reply = Reply()
    assert extender.extend("a cat").status == "extended"
    assert server.hits == 2


def test_factory_end_to_end_with_one_log_line(
    server: FakeChatServer, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        prompt_extend_provider="openai",
        prompt_extend_base_url=server.base_url,
        prompt_extend_api_key=API_KEY,  # pydantic turns it into a SecretStr
        prompt_extend_model=MODEL,
        prompt_extend_timeout_s=5,
    )
    extender = build_extender(settings)
    with caplog.at_level(logging.INFO, logger="videosynth.prompting"):
        outcome = extender.extend("a cat playing piano")

    assert outcome.status == "extended"
    assert server.received[0].headers["authorization"] == f"Bearer {API_KEY}"
    lines = [r for r in caplog.records if r.name == "videosynth.prompting"]
    assert len(lines) == 1
    logged = json.loads(lines[0].getMessage().removeprefix("prompt extension "))
    assert logged["status"] == "extended" and logged["reason"] is None
    assert (logged["prompt_chars"], logged["actual_prompt_chars"]) == (len("a cat playing piano"), len(REWRITE))
    assert API_KEY not in lines[0].getMessage() and REWRITE not in lines[0].getMessage()
    assert describe(settings) == f"prompt extension: openai-compatible {server.base_url} model {MODEL}, timeout 5 s"
    assert API_KEY not in describe(settings)
