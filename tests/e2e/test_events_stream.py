"""The task events stream (an extension: GET /api/v1/tasks/{id}/events) on real `videosynth serve` processes."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import sse
from tests.support.fake_chat import API_KEY, MODEL, Reply, running_chat_server
from tests.support.server import Server, query, submit, wait_final

PHASES = ["queued", "extending_prompt", "denoising", "encoding", "uploading", "done"]
# Many steps, re-read often, publish often: each phase and several steps are seen on the tiny model.
STREAM_ENV = {
    "VIDEOSYNTH_MODEL_STEPS": "30",
    "VIDEOSYNTH_EVENTS_POLL_S": "0.05",
    "VIDEOSYNTH_EVENTS_HEARTBEAT_S": "0.3",
    "VIDEOSYNTH_EVENTS_MAX_STREAMS_PER_KEY": "2",
}
TASK = {"model": "wan2.7-t2v", "input": {"prompt": "a paper boat on a pond"}, "parameters": {"duration": 2}}
READ_TIMEOUT = httpx.Timeout(30.0, read=60.0)


@pytest.fixture(scope="module")
def streaming(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("events"), STREAM_ENV).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def queue_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """No worker: tasks stay PENDING, so their streams stay open."""
    running = Server(tmp_path_factory.mktemp("events-api"), STREAM_ENV, worker=False).start()
    yield running
    running.stop()


def _events_url(server: Server, task_id: str, prefix: str = "/api/v1") -> str:
    return f"{server.base_url}{prefix}/tasks/{task_id}/events"


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _task_id(server: Server, key: str, body: dict[str, Any] = TASK) -> str:
    created = submit(server.base_url, key, body)
    assert created.status_code == 200, created.text
    task_id: str = created.json()["output"]["task_id"]
    return task_id


def test_the_stream_follows_a_task_through_its_phases_and_ends_after_success(streaming: Server) -> None:
    key = streaming.create_key("stream")
    task_id = _task_id(streaming, key)
    with httpx.stream("GET", _events_url(streaming, task_id), headers=_auth(key), timeout=READ_TIMEOUT) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        seen = sse.events(response)  # returns only once the server closed the stream

    assert [event.id for event in seen] == [str(n) for n in range(1, len(seen) + 1)]
    assert {event.event for event in seen} == {"task"}
    bodies = [event.data for event in seen]
    progress = [body["progress"] for body in bodies]
    statuses = [body["output"]["task_status"] for body in bodies]
    assert statuses[-1] == "SUCCEEDED" and "SUCCEEDED" not in statuses[:-1]
    assert progress[-1] == {"phase": "done", "percent": 100, "step": None, "steps": None, "eta_s": None}
    # honest progress: several distinct values on the way, never backwards, phases in order
    percents = [item["percent"] for item in progress]
    # How many intermediate values a watcher sees depends on the machine's speed (progress is published at most
    # every 0.2 s); tests/unit/test_worker_heartbeat_progress.py proves each step is published when it lasts.
    assert percents == sorted(percents) and len(set(percents)) >= 2
    order = [PHASES.index(item["phase"]) for item in progress]
    assert order == sorted(order)
    denoising = [item for item in progress if item["phase"] == "denoising" and item["step"]]
    assert denoising, progress
    assert all(item["steps"] == 30 and 0 < item["step"] <= 30 for item in denoising)
    assert all(isinstance(item["eta_s"], float) and item["eta_s"] >= 0 for item in denoising)
    assert any(item["phase"] in ("encoding", "uploading") for item in progress)
    # each event's body is the poll's (its own request_id; the signed link is signed anew)
    final, polled = dict(bodies[-1]), query(streaming.base_url, key, task_id)
    assert final.keys() == polled.keys() == {"request_id", "output", "usage", "progress"}
    assert final["progress"] == polled["progress"]  # a poll shows the same progress as the stream
    assert final["request_id"] != polled["request_id"]
    assert final["usage"] == polled["usage"]
    strip = {"video_url"}
    assert {k: v for k, v in final["output"].items() if k not in strip} == {
        k: v for k, v in polled["output"].items() if k not in strip
    }
    assert httpx.get(final["output"]["video_url"], timeout=30).content[4:8] == b"ftyp"


def test_a_finished_task_gets_one_event_and_the_apiyi_prefix_serves_it_too(streaming: Server) -> None:
    key = streaming.create_key("finished")
    task_id = _task_id(streaming, key)
    wait_final(streaming.base_url, key, task_id)
    for prefix in ("/api/v1", "/wan/api/v1"):
        with httpx.stream("GET", _events_url(streaming, task_id, prefix), headers=_auth(key), timeout=30) as response:
            [event] = sse.events(response)
        assert event.data["output"]["task_status"] == "SUCCEEDED"
        assert event.data["progress"]["phase"] == "done"


def test_a_prompt_extension_is_a_phase_of_its_own(tmp_path: Path) -> None:
    with running_chat_server() as chat:
        chat.reply = Reply(delay_s=1.0)  # the rewrite takes a while: the stream sees the task in that phase
        env = {
            **STREAM_ENV,
            "VIDEOSYNTH_MODEL_STEPS": "4",
            "VIDEOSYNTH_PROMPT_EXTEND_PROVIDER": "openai",
            "VIDEOSYNTH_PROMPT_EXTEND_BASE_URL": chat.base_url,
            "VIDEOSYNTH_PROMPT_EXTEND_API_KEY": API_KEY,
            "VIDEOSYNTH_PROMPT_EXTEND_MODEL": MODEL,
        }
        server = Server(tmp_path / "extending", env).start()
        try:
            key = server.create_key("extending")
            task_id = _task_id(server, key)
            with httpx.stream(
                "GET", _events_url(server, task_id), headers=_auth(key), timeout=READ_TIMEOUT
            ) as response:
                seen = [event.data for event in sse.events(response)]
        finally:
            server.stop()
    phases = [body["progress"]["phase"] for body in seen]
    assert "extending_prompt" in phases and phases[-1] == "done", phases
    assert phases.index("extending_prompt") < min(
        phases.index(p) for p in ("encoding", "uploading", "done") if p in phases
    )
    extending = next(body for body in seen if body["progress"]["phase"] == "extending_prompt")
    assert extending["output"]["task_status"] == "RUNNING" and extending["progress"]["percent"] == 1
    assert seen[-1]["output"]["actual_prompt"]


def test_another_keys_task_is_one_unknown_event(streaming: Server) -> None:
    owner, stranger = streaming.create_key("owner"), streaming.create_key("stranger")
    task_id = _task_id(streaming, owner)
    for who, task in ((stranger, task_id), (owner, "no-such-task")):
        with httpx.stream("GET", _events_url(streaming, task), headers=_auth(who), timeout=30) as response:
            assert response.status_code == 200
            [event] = sse.events(response)
        assert event.data["output"] == {"task_id": task, "task_status": "UNKNOWN"}
        assert event.data["progress"]["phase"] == "done"


def test_a_bad_key_is_refused_like_the_poll(streaming: Server) -> None:
    for headers in ({}, _auth("sk-not-a-key")):
        response = httpx.get(_events_url(streaming, "whatever"), headers=headers, timeout=30)
        assert response.status_code == 401
        assert response.json()["code"] == "InvalidApiKey"
        assert response.json()["request_id"]


def test_heartbeats_keep_a_quiet_stream_and_a_cancel_ends_it(queue_only: Server) -> None:
    key = queue_only.create_key("quiet")
    task_id = _task_id(queue_only, key)
    items: list[sse.Event | str] = []
    with httpx.stream("GET", _events_url(queue_only, task_id), headers=_auth(key), timeout=READ_TIMEOUT) as response:
        for item in sse.read(response):
            items.append(item)
            if item == "ping" and items.count("ping") == 2:
                canceled = httpx.post(
                    f"{queue_only.base_url}/api/v1/tasks/{task_id}/cancel", headers=_auth(key), timeout=30
                )
                assert canceled.status_code == 200
    seen = [item for item in items if isinstance(item, sse.Event)]
    assert [event.data["output"]["task_status"] for event in seen] == ["PENDING", "CANCELED"]
    assert seen[0].data["progress"] == {"phase": "queued", "percent": 0, "step": None, "steps": None, "eta_s": None}
    assert seen[1].data["progress"]["phase"] == "done"
    assert items.count("ping") >= 2


def test_open_streams_per_key_are_bounded_and_given_back(queue_only: Server) -> None:
    key, other = queue_only.create_key("bounded"), queue_only.create_key("bounded-other")
    task_id = _task_id(queue_only, key)
    url = _events_url(queue_only, task_id)
    with (
        httpx.stream("GET", url, headers=_auth(key), timeout=READ_TIMEOUT) as first,
        httpx.stream("GET", url, headers=_auth(key), timeout=READ_TIMEOUT) as second,
    ):
        # keep the readers: dropping one closes its connection, which gives its slot back
        readers = [sse.read(response) for response in (first, second)]
        assert [response.status_code for response in (first, second)] == [200, 200]
        assert all(isinstance(next(reader), sse.Event) for reader in readers)
        refused = httpx.get(url, headers=_auth(key), timeout=30)
        assert refused.status_code == 429
        assert refused.json()["code"] == "Throttling"
        assert set(refused.json()) == {"request_id", "code", "message"}
        # the bound is per key: another key still gets its (UNKNOWN) stream
        with httpx.stream("GET", url, headers=_auth(other), timeout=30) as theirs:
            assert theirs.status_code == 200
    # both clients went away: their slots come back once the server notices (within a tick or two)
    for _attempt in range(200):
        with httpx.stream("GET", url, headers=_auth(key), timeout=READ_TIMEOUT) as again:
            if again.status_code == 200:
                assert isinstance(next(sse.read(again)), sse.Event)
                return
        assert again.status_code == 429
        time.sleep(0.05)
    raise AssertionError("the closed streams' slots never came back")


def test_a_graceful_shutdown_ends_open_streams(tmp_path: Path) -> None:
    server = Server(tmp_path / "shutdown", STREAM_ENV, worker=False).start()
    try:
        key = server.create_key("shutdown")
        task_id = _task_id(server, key)
        with httpx.stream("GET", _events_url(server, task_id), headers=_auth(key), timeout=READ_TIMEOUT) as response:
            items = sse.read(response)
            assert isinstance(next(items), sse.Event)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            rest = list(items)  # the server closes the stream rather than waiting on it
        assert all(not isinstance(item, sse.Event) for item in rest)
        try:
            code = server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("the server did not exit with a stream open") from None
        assert code in (0, 128 + signal.SIGTERM, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    finally:
        server.stop()
