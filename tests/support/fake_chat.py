"""A loopback OpenAI-compatible chat server that validates requests as the real API would (tests only)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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


@contextmanager
def running_chat_server() -> Iterator[FakeChatServer]:
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
