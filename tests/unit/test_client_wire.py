"""The SDK's wire format: create bodies, task answers with and without progress, error families, settings."""

from __future__ import annotations

import httpx
import pytest

from videosynth.client import (
    AuthenticationError,
    InvalidParameterError,
    LinkExpiredError,
    Progress,
    ServerError,
    Task,
    TaskNotFoundError,
    ThrottledError,
    VideoRequest,
    wire,
)
from videosynth.client.config import resolve_api_key, resolve_base_url
from videosynth.client.records import frames_digest, same_frames
from videosynth.client.waiting import StreamUnavailable, event_task, refusal


def test_create_body_sends_only_what_was_asked() -> None:
    assert wire.create_body(VideoRequest("a cat")) == {
        "model": "wan2.7-t2v",
        "input": {"prompt": "a cat"},
        "parameters": {},
    }
    full = VideoRequest(
        "a cat", "wan2.6-t2v", size="1280*720", duration=5, seed=0, negative_prompt="dog", watermark=False,
        prompt_extend=False, audio_url="http://a/b.mp3",
    )  # fmt: skip
    assert wire.create_body(full) == {
        "model": "wan2.6-t2v",
        "input": {"prompt": "a cat", "negative_prompt": "dog", "audio_url": "http://a/b.mp3"},
        "parameters": {"size": "1280*720", "duration": 5, "seed": 0, "watermark": False, "prompt_extend": False},
    }
    assert wire.create_headers("k1") == {"X-DashScope-Async": "enable", "Idempotency-Key": "k1"}


def test_task_answers_with_and_without_progress() -> None:
    polled = wire.task_from_body({"request_id": "r", "output": {"task_id": "t", "task_status": "PENDING"}})
    assert polled.progress == Progress("queued", None) and polled.request_id == "r" and not polled.finished
    done = wire.task_from_body(
        {"output": {"task_id": "t", "task_status": "SUCCEEDED", "seed": 5, "video_url": "u"}, "usage": {"SR": 720}}
    )
    assert done.progress == Progress("done", 100) and done.seed == 5 and done.usage == {"SR": 720} and done.finished
    failed = wire.task_from_body({"output": {"task_id": "t", "task_status": "FAILED", "seed": "x"}})
    assert failed.progress.phase == "done" and failed.seed is None
    pushed = wire.task_from_body(
        {
            "output": {"task_id": "t", "task_status": "RUNNING"},
            "progress": {"phase": "denoising", "percent": 40, "step": 2, "steps": 5, "eta_s": 3.5},
        }
    )
    assert pushed.progress == Progress("denoising", 40, 2, 5, 3.5)
    for bad in ({}, [], {"output": {"task_status": "PENDING"}}):
        with pytest.raises(ServerError):
            wire.task_from_body(bad)
    with pytest.raises(ServerError):
        event_task("not json")
    assert event_task('{"output": {"task_id": "t", "task_status": "UNKNOWN"}}').status == "UNKNOWN"


def test_unknown_is_not_found() -> None:
    with pytest.raises(TaskNotFoundError):
        wire.known(Task("t", "UNKNOWN", Progress("done")))


def test_pages() -> None:
    rows, pages = wire.summaries_from_page(
        {"data": [{"task_id": "a", "status": "PENDING", "gmt_create": 1}], "total_page": 3}
    )
    assert pages == 3 and rows[0].task_id == "a" and rows[0].gmt_create == 1 and rows[0].model_name is None
    assert wire.summaries_from_page({"data": []}) == ([], 0)
    with pytest.raises(ServerError):
        wire.summaries_from_page({"total": 0})


def answer(status: int, content: bytes = b"", **headers: str) -> httpx.Response:
    return httpx.Response(status, content=content, headers=headers, request=httpx.Request("GET", "http://x/"))


@pytest.mark.parametrize(
    ("status", "family"),
    [
        (400, InvalidParameterError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, TaskNotFoundError),
        (409, InvalidParameterError),
        (429, ThrottledError),
        (500, ServerError),
        (503, ServerError),
    ],
)
def test_error_families(status: int, family: type[Exception]) -> None:
    error = wire.error_from(answer(status, b'{"request_id": "r9", "code": "Some", "message": "what"}'))
    assert type(error) is family and (error.code, error.message, error.request_id, error.status) == (
        "Some",
        "what",
        "r9",
        status,
    )


def test_an_error_that_is_not_dashscope_json() -> None:
    error = wire.error_from(answer(502, b"<html>bad gateway</html>", **{"x-request-id": "p1"}))
    assert isinstance(error, ServerError) and error.code == "HTTP502" and error.message == "Bad Gateway"
    assert error.request_id == "p1" and str(error) == "HTTP502: Bad Gateway"
    assert wire.error_from(answer(418, b"[1]")).code == "HTTP418"


def test_links_and_streams() -> None:
    assert isinstance(wire.link_error(answer(403)), LinkExpiredError)
    assert isinstance(wire.link_error(answer(500)), ServerError)
    assert wire.video_url_of("http://v") == "http://v"
    with pytest.raises(InvalidParameterError):
        wire.video_url_of(Task("t", "FAILED", Progress("done")))
    assert wire.is_event_stream(answer(200, **{"content-type": "text/event-stream; charset=utf-8"}))
    assert not wire.is_event_stream(answer(200, **{"content-type": "application/json"}))
    assert isinstance(refusal(answer(404)), StreamUnavailable)
    assert isinstance(refusal(answer(429)), StreamUnavailable)
    assert isinstance(refusal(answer(200)), StreamUnavailable)  # 200 but not an event stream
    assert isinstance(refusal(answer(401)), AuthenticationError)
    assert isinstance(refusal(answer(503)), ServerError)


def test_base_url_and_key_from_arguments_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIDEOSYNTH_BASE_URL", raising=False)
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    assert resolve_base_url(None) == "http://127.0.0.1:8000"
    assert resolve_base_url("http://h:1/api/v1/") == "http://h:1"
    monkeypatch.setenv("VIDEOSYNTH_BASE_URL", "http://env:2")
    assert resolve_base_url(None) == "http://env:2"
    with pytest.raises(AuthenticationError) as missing:
        resolve_api_key(None)
    assert "DASHSCOPE_API_KEY" in missing.value.message
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-env")
    assert resolve_api_key(None) == "sk-env" and resolve_api_key("sk-arg") == "sk-arg"


def test_a_rerun_is_compared_by_its_frames_digest() -> None:
    record = {"output": {"frames_sha256": "ab" * 32}}
    body = {"output": {"task_id": "t", "task_status": "SUCCEEDED", "reproducibility": record}}
    task = wire.task_from_body(body)
    assert task.reproducibility == record and frames_digest(record) == "ab" * 32
    assert same_frames(record, task.reproducibility) is True
    assert same_frames(record, {"output": {"frames_sha256": "cd" * 32}}) is False
    # Nothing to compare: a record without a digest (an upstream's mp4), a rerun without a record, junk.
    assert same_frames({"output": {"frames_sha256": None}}, record) is None
    assert same_frames(record, None) is None and frames_digest({"output": "x"}) is None
    assert wire.task_from_body({"output": {"task_id": "t", "reproducibility": "x"}}).reproducibility is None
