"""The relay backend with the store's shared limits (store/upstream_budget.py), on SQLite and PostgreSQL: a task
waits for an upstream slot before its (paid) submit, lets go of it when its upstream task ended, and every request
takes a grant of the account's budget. The upstream is an httpx MockTransport, the clock a fake one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from videosynth.backends.base import GenerationJob, RunContext, WorkCanceled
from videosynth.backends.relay import RelayBackend, RelayError
from videosynth.domain.request import GenerationRequest
from videosynth.registry import RelayEntry
from videosynth.store.upstream_budget import PollBudget, UpstreamLimits, upstream_name

KEY = "sk-upstream"
BASE = "http://upstream.test"
NOW = 1_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _answer(status: str) -> httpx.Response:
    return httpx.Response(200, json={"request_id": "r", "output": {"task_id": "up-1", "task_status": status}})


def _context(tmp_path: Path) -> RunContext:
    request = GenerationRequest(
        model="wan2.7-t2v",
        prompt="a lighthouse",
        negative_prompt="",
        width=1280,
        height=720,
        resolution="720P",
        ratio="16:9",
        duration=2,
        seed=None,
        prompt_extend=False,
        watermark=False,
    )
    return RunContext("ours-1", request, lambda step, total: None, {}, lambda state: None, tmp_path)


def _backend(engine: Engine, clock: Clock, seen: list[httpx.Request], **entry: Any) -> RelayBackend:
    def upstream(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _answer("PENDING" if request.method == "POST" else "CANCELED")

    fields = {"deadline_s": 30.0, "poll_initial_s": 1.0, "poll_max_s": 2.0, "allow_private": True, **entry}
    return RelayBackend(
        RelayEntry("cloud", BASE, "K", "wan2.7-t2v", **fields),
        KEY,
        transport=httpx.MockTransport(upstream),
        sleep=clock.sleep,
        clock=clock.time,
        limits=_limits(engine),
    )


def _limits(engine: Engine) -> UpstreamLimits:
    return UpstreamLimits(engine, upstream_name(BASE, KEY))


def _job() -> GenerationJob:
    return GenerationJob("a lighthouse", "", 1280, 720, 33, seed=1)


def test_a_task_waits_for_a_free_slot_and_never_submits_without_one(engine: Engine, tmp_path: Path) -> None:
    assert _limits(engine).take_slot("another-task", 1, int(NOW * 1000), ttl_s=3600)
    seen: list[httpx.Request] = []
    with pytest.raises(RelayError) as caught:
        _backend(engine, Clock(), seen, max_concurrency=1).run(_job(), _context(tmp_path))
    assert caught.value.code == "Relay.DeadlineExceeded" and "no upstream slot free" in caught.value.message
    assert seen == []  # nothing was sent, nothing was billed


def test_a_slot_is_held_while_the_upstream_works_and_freed_when_it_ended(engine: Engine, tmp_path: Path) -> None:
    seen: list[httpx.Request] = []
    backend = _backend(engine, Clock(), seen, max_concurrency=2)
    with pytest.raises(WorkCanceled):  # the upstream answers CANCELED to the first poll
        backend.run(_job(), _context(tmp_path))
    assert [r.method for r in seen] == ["POST", "GET"]
    assert _limits(engine).in_flight(int(NOW * 1000)) == 0
    assert _limits(engine).take_slot("x", 2, int(NOW * 1000), 60) and _limits(engine).take_slot("y", 2, 0, 60)


def test_every_upstream_request_takes_a_grant_of_the_shared_budget(engine: Engine, tmp_path: Path) -> None:
    clock = Clock()
    limits = _limits(engine)
    # Another worker spent the budget: the next grant is 2 s away (poll_qps = 0.5).
    assert limits.try_poll(PollBudget(0.5), int(NOW * 1e9)) == 0.0
    seen: list[httpx.Request] = []
    with pytest.raises(WorkCanceled):
        _backend(engine, clock, seen, poll_qps=0.5).run(_job(), _context(tmp_path))
    assert [r.method for r in seen] == ["POST", "GET"]
    assert clock.now - NOW >= 4.0  # two grants, 2 s apart, after the other worker's
