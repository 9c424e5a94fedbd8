"""backends/relay against an in-process httpx MockTransport (the upstream) on a fake clock: submit once, resume,
poll with backoff, retries on 429 (Retry-After) / 5xx / broken connections, upstream errors passed through with
the key cut out, the deadline, and the download of the upstream's mp4 (a real loopback HTTP server)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from videosynth.backends.base import FinishedVideo, GenerationJob, RunContext, WorkCanceled
from videosynth.backends.relay import STATE_KEY, RelayBackend, RelayError
from videosynth.domain.errors import InputDownloadFailed
from videosynth.domain.request import GenerationRequest
from videosynth.registry import RelayEntry

KEY = "sk-upstream-secret-42"
CREATE = "/wan/api/v1/services/aigc/video-generation/video-synthesis"

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Upstream:
    """Answers in turn from ``script`` per path kind; records every request."""

    def __init__(self, creates: list[Any], polls: list[Any]) -> None:
        self.creates, self.polls = creates, polls
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.creates if request.method == "POST" else self.polls
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def _status(status: str, **output: Any) -> httpx.Response:
    return httpx.Response(200, json={"request_id": "r", "output": {"task_id": "up-1", "task_status": status, **output}})


_ACCEPTED = httpx.Response(200, json={"request_id": "r", "output": {"task_id": "up-1", "task_status": "PENDING"}})


def _entry(**changes: Any) -> RelayEntry:
    base = {
        "name": "cloud",
        "base_url": "http://upstream.test/wan",
        "api_key_env": "K",
        "upstream_model": "wan2.7-t2v",
        "allow_private": True,
        "deadline_s": 120.0,
    }
    return RelayEntry(**{**base, **changes})


def _request(**changes: Any) -> GenerationRequest:
    base = {
        "model": "wan2.7-t2v",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blur",
        "width": 1280,
        "height": 720,
        "resolution": "720P",
        "ratio": "16:9",
        "duration": 5,
        "seed": None,
        "prompt_extend": True,
        "watermark": False,
    }
    return GenerationRequest(**{**base, **changes})


class Run:
    def __init__(self, tmp_path: Path, state: Mapping[str, Any] | None = None, **request: Any) -> None:
        self.saved: list[dict[str, Any]] = []
        self.steps: list[int] = []
        self.context = RunContext(
            task_id="ours-1",
            request=_request(**request),
            on_step=lambda step, total: self.steps.append(step),
            state=state or {},
            save_state=lambda s: self.saved.append(dict(s)),
            scratch_dir=tmp_path,
        )
        self.job = GenerationJob("extended, not this", "blur", 1280, 720, 81, seed=1234)


def _backend(upstream: Handler, clock: Clock, **entry: Any) -> RelayBackend:
    return RelayBackend(
        _entry(**entry), KEY, transport=httpx.MockTransport(upstream), sleep=clock.sleep, clock=clock.time
    )


@pytest.fixture
def mp4_server() -> Iterator[str]:
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/missing"):
                self.send_error(404)
                return
            body = b"\x00\x00\x00\x18ftypmp42-not-really-a-video"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_submits_once_saves_the_id_first_polls_and_downloads(tmp_path: Path, mp4_server: str) -> None:
    clock = Clock()
    url = f"{mp4_server}/up-1.mp4?Expires=1&Signature=s"
    upstream = Upstream([_ACCEPTED], [_status("PENDING"), _status("RUNNING"), _status("SUCCEEDED", video_url=url)])
    run = Run(tmp_path)
    out = _backend(upstream, clock).run(run.job, run.context)
    assert isinstance(out, FinishedVideo) and out.path.parent == tmp_path
    assert out.path.read_bytes().startswith(b"\x00\x00\x00\x18ftyp")
    create, *polls = upstream.requests
    assert str(create.url) == f"http://upstream.test{CREATE}"
    assert create.headers["authorization"] == f"Bearer {KEY}"
    assert create.headers["x-dashscope-async"] == "enable"
    assert create.headers["idempotency-key"] == "ours-1"
    assert json.loads(create.content) == {
        "model": "wan2.7-t2v",
        "input": {"prompt": "a lighthouse at dusk", "negative_prompt": "blur"},
        "parameters": {
            "resolution": "720P",
            "ratio": "16:9",
            "duration": 5,
            "prompt_extend": True,
            "watermark": False,
            "seed": 1234,
        },
    }
    assert [str(p.url) for p in polls] == ["http://upstream.test/wan/api/v1/tasks/up-1"] * 3
    assert run.saved == [{STATE_KEY: "up-1", "upstream_submitted_at": 1_000_000.0}]
    assert 5 in run.steps and 50 in run.steps and run.steps[-1] == 95
    assert 0.7 < clock.slept[0] <= 1.0  # first wait ~1 s (jitter), in slices of at most a second
    assert max(clock.slept) <= 1.0


def test_legacy_models_send_size_and_audio(tmp_path: Path) -> None:
    run = Run(tmp_path, audio_url="https://x/a.mp3", resolution="", ratio="")
    body = _backend(Upstream([_ACCEPTED], [_ACCEPTED]), Clock(), upstream_model="wan2.6-t2v").body(run.job, run.context)
    assert body["parameters"]["size"] == "1280*720" and "resolution" not in body["parameters"]
    assert body["input"]["audio_url"] == "https://x/a.mp3"


def test_a_saved_upstream_id_is_polled_never_submitted_again(tmp_path: Path, mp4_server: str) -> None:
    clock = Clock()
    upstream = Upstream([_ACCEPTED], [_status("SUCCEEDED", video_url=f"{mp4_server}/v.mp4")])
    run = Run(tmp_path, state={STATE_KEY: "up-1", "upstream_submitted_at": clock.now - 10})
    _backend(upstream, clock).run(run.job, run.context)
    assert [r.method for r in upstream.requests] == ["GET"] and run.saved == []


def test_429_honours_retry_after_and_5xx_and_broken_connections_are_retried(tmp_path: Path, mp4_server: str) -> None:
    clock = Clock()
    throttled = httpx.Response(429, headers={"Retry-After": "7"}, json={"code": "Throttling", "message": "slow"})
    creates = [throttled, httpx.Response(503, text="busy"), _ACCEPTED]
    polls: list[Any] = [
        httpx.ConnectError("refused"),
        httpx.Response(500),
        _status("SUCCEEDED", video_url=f"{mp4_server}/v"),
    ]
    upstream = Upstream(creates, polls)
    run = Run(tmp_path)
    _backend(upstream, clock).run(run.job, run.context)
    assert [r.method for r in upstream.requests] == ["POST"] * 3 + ["GET"] * 3
    assert sum(clock.slept[:7]) >= 7.0  # the 429's Retry-After before the second submit
    assert len(run.saved) == 1


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "InvalidParameter"), (400, "DataInspectionFailed"), (401, "InvalidApiKey"), (400, "Arrearage")],
)
def test_upstream_4xx_fails_the_task_with_its_code_and_the_key_cut_out(tmp_path: Path, status: int, code: str) -> None:
    refused = httpx.Response(status, json={"request_id": "r", "code": code, "message": f"bad key Bearer {KEY} here"})
    upstream = Upstream([refused], [_ACCEPTED])
    run = Run(tmp_path)
    with pytest.raises(RelayError) as caught:
        _backend(upstream, Clock()).run(run.job, run.context)
    assert caught.value.code == code
    assert KEY not in caught.value.message and "[redacted]" in caught.value.message
    assert len(upstream.requests) == 1 and run.saved == []


def test_a_failed_upstream_task_passes_its_code_and_message_on(tmp_path: Path) -> None:
    failed = _status("FAILED", code="DataInspectionFailed", message=f"inappropriate content {KEY}")
    run = Run(tmp_path)
    with pytest.raises(RelayError) as caught:
        _backend(Upstream([_ACCEPTED], [failed]), Clock()).run(run.job, run.context)
    assert (caught.value.code, caught.value.message) == ("DataInspectionFailed", "inappropriate content [redacted]")


def test_an_unknown_upstream_task_fails_with_a_relay_code(tmp_path: Path) -> None:
    run = Run(tmp_path)
    with pytest.raises(RelayError) as caught:
        _backend(Upstream([_ACCEPTED], [_status("UNKNOWN")]), Clock()).run(run.job, run.context)
    assert caught.value.code == "Relay.UpstreamTaskUnknown"


def test_a_canceled_upstream_task_cancels_ours(tmp_path: Path) -> None:
    run = Run(tmp_path)
    with pytest.raises(WorkCanceled, match="up-1 was canceled"):
        _backend(Upstream([_ACCEPTED], [_status("CANCELED")]), Clock()).run(run.job, run.context)


def test_the_upstream_prompt_seed_and_usage_come_back_with_the_video(tmp_path: Path, mp4_server: str) -> None:
    usage = {"duration": 2, "video_count": 1, "SR": 720, "ratio": "16:9", "nested": {"dropped": True}}
    done = httpx.Response(
        200,
        json={
            "request_id": "r",
            "output": {
                "task_id": "up-1",
                "task_status": "SUCCEEDED",
                "video_url": f"{mp4_server}/v.mp4",
                "actual_prompt": "a lighthouse at dusk, waves, gulls",
                "seed": 42,
            },
            "usage": usage,
        },
    )
    run = Run(tmp_path)
    out = _backend(Upstream([_ACCEPTED], [done]), Clock()).run(run.job, run.context)
    assert isinstance(out, FinishedVideo)
    assert (out.actual_prompt, out.seed) == ("a lighthouse at dusk, waves, gulls", 42)
    assert out.usage == {"duration": 2, "video_count": 1, "SR": 720, "ratio": "16:9"}  # scalars only


def test_an_upstream_answer_without_extras_leaves_them_to_us(tmp_path: Path, mp4_server: str) -> None:
    done = _status("SUCCEEDED", video_url=f"{mp4_server}/v.mp4", seed="not a number", actual_prompt="")
    run = Run(tmp_path)
    out = _backend(Upstream([_ACCEPTED], [done]), Clock()).run(run.job, run.context)
    assert isinstance(out, FinishedVideo) and (out.actual_prompt, out.seed, out.usage) == (None, None, None)


def test_an_upstream_that_never_finishes_fails_at_the_deadline(tmp_path: Path) -> None:
    clock = Clock()
    run = Run(tmp_path)
    with pytest.raises(RelayError) as caught:
        _backend(Upstream([_ACCEPTED], [_status("RUNNING")]), clock, deadline_s=60.0).run(run.job, run.context)
    assert caught.value.code == "Relay.DeadlineExceeded" and "60 s" in caught.value.message
    assert 60.0 <= clock.now - 1_000_000.0 < 62.0


def test_an_upstream_that_is_down_fails_at_the_deadline_naming_the_fault(tmp_path: Path) -> None:
    run = Run(tmp_path)
    upstream = Upstream([httpx.Response(502)], [_ACCEPTED])
    with pytest.raises(RelayError, match=r"last upstream fault: HTTP 502") as caught:
        _backend(upstream, Clock(), deadline_s=30.0).run(run.job, run.context)
    assert caught.value.code == "Relay.DeadlineExceeded"


def test_a_video_url_that_cannot_be_downloaded_fails_as_input_download(tmp_path: Path, mp4_server: str) -> None:
    run = Run(tmp_path)
    done = _status("SUCCEEDED", video_url=f"{mp4_server}/missing.mp4?Signature=secret")
    with pytest.raises(InputDownloadFailed) as caught:
        _backend(Upstream([_ACCEPTED], [done]), Clock()).run(run.job, run.context)
    assert caught.value.code == "BadRequest.InputDownloadFailed" and "Signature" not in caught.value.message


def test_loopback_video_urls_are_refused_unless_the_entry_allows_them(tmp_path: Path, mp4_server: str) -> None:
    run = Run(tmp_path)
    done = _status("SUCCEEDED", video_url=f"{mp4_server}/v.mp4")
    with pytest.raises(InputDownloadFailed, match="private or local address"):
        _backend(Upstream([_ACCEPTED], [done]), Clock(), allow_private=False).run(run.job, run.context)


def test_a_size_a_wan27_upstream_cannot_make_is_refused_before_any_submit(tmp_path: Path) -> None:
    upstream = Upstream([_ACCEPTED], [_ACCEPTED])
    run = Run(tmp_path, width=1024, height=576)
    with pytest.raises(RelayError, match="1024x576 cannot be relayed") as caught:
        _backend(upstream, Clock()).run(run.job, run.context)
    assert caught.value.code == "InvalidParameter" and upstream.requests == []


def test_the_tier_is_read_from_the_size(tmp_path: Path) -> None:
    run = Run(tmp_path, width=1104, height=832, resolution="720P", ratio="16:9")
    body = _backend(Upstream([_ACCEPTED], [_ACCEPTED]), Clock()).body(run.job, run.context)
    assert (body["parameters"]["resolution"], body["parameters"]["ratio"]) == ("720P", "4:3")
