"""The OpenAI-compatible provider against a real loopback HTTP server started here.

The server checks each request as the real API would (POST /v1/chat/completions, Bearer auth, a JSON body with
``model`` and a ``messages`` list of {role, content}) and answers as the test scripts it: a good rewrite, a
slow answer (timeout), HTTP 500, HTTP 401 (wrong key), an empty answer, a refusal, an echo of the instructions.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

pytest.importorskip("openai")

from videosynth.prompting.base import ExtensionOutcome
from videosynth.prompting.cache import LruCache
from videosynth.prompting.extender import RewritingExtender
from videosynth.prompting.factory import build_extender, describe
from videosynth.prompting.openai_compat import DEFAULT_MAX_TOKENS, OpenAICompatRewriter
from videosynth.prompting.system_prompts import INSTRUCTIONS_EN, SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH
from videosynth.settings import Settings

API_KEY = "sk-test-0123456789"
MODEL = "qwen-plus"
REWRITE = (
    "A fluffy ginger cat sits at a grand piano on a moonlit stage, paws pressing the ivory keys while its tail "
    "sways. Soft blue spotlights, slow dolly-in, photorealistic, shallow depth of field."
)
ROLES = {"system", "user", "assistant", "developer", "tool"}


@dataclass
class Reply:
    status: int = 200
    content: str | None = REWRITE
    delay_s: float = 0.0
    raw_body: bytes | None = None  # sent as is, instead of a chat.completion


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, Any]


@dataclass
class FakeChatServer:
    """What the handler consults and records; ``reply`` is set per test."""

    base_url: str = ""
    reply: Reply = field(default_factory=Reply)
    received: list[Received] = field(default_factory=list)  # requests that passed validation
    hits: int = 0  # every request, valid or not
    release: threading.Event = field(default_factory=threading.Event)  # ends a pending delay at teardown
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.reply = Reply()
            self.received.clear()
            self.hits = 0


def _error(status: int, message: str, kind: str, code: str | None = None) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _validate(handler: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, dict[str, Any]] | dict[str, Any]:
    """The error the real API would answer, or the parsed body."""
    if handler.path != "/v1/chat/completions":
        return _error(404, f"Unknown path {handler.path}", "invalid_request_error")
    if handler.headers.get("Authorization") != f"Bearer {API_KEY}":
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
    if not (handler.headers.get("Content-Type") or "").startswith("application/json"):
        return _error(400, "Content-Type must be application/json", "invalid_request_error")
    try:
        body = json.loads(raw)
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error")
    if not isinstance(body, dict) or not isinstance(body.get("model"), str) or not body["model"]:
        return _error(400, "you must provide a model parameter", "invalid_request_error")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return _error(400, "'messages' must be a non-empty array", "invalid_request_error")
    for message in messages:
        if not (isinstance(message, dict) and message.get("role") in ROLES and isinstance(message.get("content"), str)):
            return _error(400, f"Invalid message: {message!r}", "invalid_request_error")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return _error(400, "max_tokens must be a positive integer", "invalid_request_error")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature <= 2):
        return _error(400, "temperature must be within [0, 2]", "invalid_request_error")
    return body


def _completion(model: str, content: str | None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._send(*_error(405, "Method not allowed", "invalid_request_error"))

    def do_POST(self) -> None:
        state = self.server.state
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with state.lock:
            state.hits += 1
            reply = state.reply
        checked = _validate(self, raw)
        if isinstance(checked, tuple):
            self._send(*checked)
            return
        with state.lock:
            state.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, checked))
        if reply.delay_s:
            state.release.wait(reply.delay_s)
        if reply.raw_body is not None:
            self._send_bytes(reply.status, reply.raw_body, "text/html")
        elif reply.status != 200:
            self._send(*_error(reply.status, "The server had an error processing your request.", "server_error"))
        else:
            self._send(200, _completion(checked["model"], reply.content))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: FakeChatServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state


@pytest.fixture(scope="module")
def chat_server_module() -> Iterator[FakeChatServer]:
    state = FakeChatServer()
    server = _Server(state)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


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
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
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
