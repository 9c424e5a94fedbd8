"""upstream_cancel.py: the API's cancel of a relayed task forwarded upstream (an httpx MockTransport upstream)."""

from __future__ import annotations

import dataclasses
import tomllib

import httpx
import pytest
from tests.support.tasks import make_task

from videosynth.domain.errors import ServiceUnavailable, UnsupportedOperation
from videosynth.domain.task import Task, TaskStatus
from videosynth.registry import RelayEntry, parse_registry
from videosynth.upstream_cancel import UpstreamCancels

KEY = "sk-upstream-secret-7"
ENTRY = RelayEntry("cloud", "http://upstream.test/wan", "K", "wan2.7-t2v", allow_private=True)
REGISTRY = """
[aliases]
"wan2.7-t2v" = "cloud"
"wan2.6-t2v" = "local"
[models.cloud]
backend = "relay"
base_url = "http://upstream.test"
api_key_env = "K"
upstream_model = "wan2.7-t2v"
[models.local]
checkpoint = "demo:wan2.1"
"""


def _running(state: dict[str, object] | None = None, model: str = "wan2.7-t2v") -> Task:
    task = make_task(model=model)
    return dataclasses.replace(
        task, status=TaskStatus.RUNNING, backend_state={"upstream_task_id": "up-9"} if state is None else state
    )


def _cancels(answer: httpx.Response | Exception, seen: list[httpx.Request]) -> UpstreamCancels:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return UpstreamCancels({"wan2.7-t2v": (ENTRY, KEY)}, transport=httpx.MockTransport(handle))


def test_an_accepted_cancel_is_posted_to_the_upstream_task() -> None:
    seen: list[httpx.Request] = []
    _cancels(httpx.Response(200, json={"request_id": "r"}), seen).cancel(_running())
    assert [(r.method, str(r.url)) for r in seen] == [("POST", "http://upstream.test/wan/api/v1/tasks/up-9/cancel")]
    assert seen[0].headers["authorization"] == f"Bearer {KEY}"


def test_a_refusal_is_the_upstreams_message_with_the_key_cut_out() -> None:
    refusal = httpx.Response(400, json={"code": "UnsupportedOperation", "message": f"not PENDING ({KEY})"})
    with pytest.raises(UnsupportedOperation) as caught:
        _cancels(refusal, []).cancel(_running())
    assert caught.value.message == "The upstream refused the cancel (UnsupportedOperation): not PENDING ([redacted])"


@pytest.mark.parametrize("answer", [httpx.Response(503), httpx.Response(429), httpx.ConnectError("refused")])
def test_an_unreachable_or_busy_upstream_asks_for_a_retry(answer: httpx.Response | Exception) -> None:
    with pytest.raises(ServiceUnavailable):
        _cancels(answer, []).cancel(_running())


def test_only_submitted_tasks_of_relayed_models_are_forwarded() -> None:
    cancels = _cancels(httpx.Response(200), [])
    assert cancels.forwards(_running())
    assert not cancels.forwards(_running(state={}))  # not submitted yet: a local cancel
    assert not cancels.forwards(_running(model="wan2.6-t2v"))


def test_routes_are_the_relayed_public_names_whose_key_is_set() -> None:
    registry = parse_registry(tomllib.loads(REGISTRY), "test.toml")
    assert UpstreamCancels.from_registry(registry, {"K": KEY}).routes == 1
    assert UpstreamCancels.from_registry(registry, {}).routes == 0
