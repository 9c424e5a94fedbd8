"""A loopback OpenAI-compatible moderation server: flags any input containing FLAGGED_WORD (tests only)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

API_KEY = "sk-moderation-test"
FLAGGED_WORD = "forbidden"


@dataclass
class FakeModeration:
    base_url: str = ""
    status: int = 200  # anything else: answered as an outage
    received: list[dict[str, Any]] = field(default_factory=list)


def _results(body: dict[str, Any]) -> dict[str, Any]:
    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
    flags = [FLAGGED_WORD in text.lower() for text in inputs]
    return {
        "id": "modr-test",
        "model": body.get("model", "omni-moderation-latest"),
        "results": [{"flagged": flag, "categories": {"violence": flag}} for flag in flags],
    }


@contextmanager
def running_moderation_server() -> Iterator[FakeModeration]:
    state = FakeModeration()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            ok = self.path == "/v1/moderations" and self.headers.get("authorization") == f"Bearer {API_KEY}"
            if not ok or state.status != 200:
                self._send(state.status if ok else 401, {"error": {"message": "unavailable"}})
                return
            body = json.loads(raw)
            state.received.append(body)
            self._send(200, _results(body))

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
