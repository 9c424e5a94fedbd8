"""The official dashscope SDK, pointed at videosynth, works as it does against Alibaba Cloud."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from http import HTTPStatus
from typing import Any

import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis

from tests.support.server import Server


@pytest.fixture
def sdk_base(server: Server, monkeypatch: pytest.MonkeyPatch) -> str:
    # What a user does: dashscope.base_http_api_url = "https://<host>/api/v1"
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{server.base_url}/api/v1")
    return server.base_url


def test_async_call_then_wait(sdk_base: str, key: str) -> None:
    created = VideoSynthesis.async_call(
        model="wan2.7-t2v",
        prompt="黄昏海边的灯塔",
        api_key=key,
        resolution="720P",
        ratio="1:1",
        duration=2,
        seed=42,
    )
    assert created.status_code == HTTPStatus.OK, created
    assert created.output.task_status == "PENDING"
    done = VideoSynthesis.wait(created, api_key=key)
    assert done.status_code == HTTPStatus.OK, done
    assert done.output.task_status == "SUCCEEDED"
    assert done.usage["SR"] == 720 and done.usage["ratio"] == "1:1" and done.usage["video_count"] == 1
    assert httpx.get(done.output.video_url).status_code == 200

    fetched = VideoSynthesis.fetch(created.output.task_id, api_key=key)
    assert fetched.output.video_url.split("?")[0] == done.output.video_url.split("?")[0]
    listed = VideoSynthesis.list(api_key=key, page_size=50)
    assert listed.status_code == HTTPStatus.OK and listed.output is not None
    assert created.output.task_id in {t["task_id"] for t in listed.output["data"]}


def test_sdk_sees_errors_as_dashscope_errors(sdk_base: str, key: str) -> None:
    bad = VideoSynthesis.async_call(model="wan2.7-t2v", prompt="x", api_key=key, duration=99)
    assert bad.status_code == 400 and bad.code == "InvalidParameter" and "duration" in bad.message
    unknown = VideoSynthesis.fetch("00000000-0000-0000-0000-000000000000", api_key=key)
    assert unknown.status_code == 200 and unknown.output.task_status == "UNKNOWN"
    wrong_key = VideoSynthesis.async_call(model="wan2.7-t2v", prompt="x", api_key="sk-nope")
    assert wrong_key.status_code == 401 and wrong_key.code == "InvalidApiKey"


def test_sdk_cancel(sdk_base: str, api_only: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{api_only.base_url}/api/v1")
    key = api_only.create_key("sdk-cancel")
    created = VideoSynthesis.async_call(model="wan2.7-t2v", prompt="x", api_key=key)
    canceled = VideoSynthesis.cancel(created, api_key=key)
    assert canceled.status_code == HTTPStatus.OK, canceled
    assert VideoSynthesis.fetch(created, api_key=key).output.task_status == "CANCELED"


# The SDK reads DASHSCOPE_HTTP_BASE_URL (and DASHSCOPE_API_KEY) once, when it is imported: a fresh interpreter.
_ENV_CLIENT = """
import json, sys
from dashscope import VideoSynthesis

out = {}
created = VideoSynthesis.async_call(model="wan2.7-t2v", prompt="a fox in the snow", duration=2, seed=11)
out["created"] = [created.status_code, created.output.task_status]
if sys.argv[1] == "cancel":
    out["canceled"] = VideoSynthesis.cancel(created).status_code
    out["fetched"] = VideoSynthesis.fetch(created).output.task_status
else:
    done = VideoSynthesis.wait(created)
    out["done"] = [done.status_code, done.output.task_status, done.output.video_url]
    out["fetched"] = VideoSynthesis.fetch(created.output.task_id).output.task_status
    listed = VideoSynthesis.list(page_size=50)
    out["listed"] = [listed.status_code, [task["task_id"] for task in listed.output["data"]]]
out["task_id"] = created.output.task_id
print(json.dumps(out))
"""


def _env_client(server: Server, key: str, mode: str) -> dict[str, Any]:
    env = {**os.environ, "DASHSCOPE_HTTP_BASE_URL": f"{server.base_url}/api/v1", "DASHSCOPE_API_KEY": key}
    done = subprocess.run(
        [sys.executable, "-c", _ENV_CLIENT, mode], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_base_url_from_the_environment_variable(server: Server, key: str) -> None:
    result = _env_client(server, key, "wait")
    assert result["created"] == [HTTPStatus.OK, "PENDING"]
    status, final, video_url = result["done"]
    assert (status, final, result["fetched"]) == (HTTPStatus.OK, "SUCCEEDED", "SUCCEEDED")
    assert httpx.get(video_url, timeout=30).content[4:8] == b"ftyp"
    listed_status, listed = result["listed"]
    assert listed_status == HTTPStatus.OK and result["task_id"] in listed


def test_cancel_with_the_base_url_from_the_environment(api_only: Server, api_only_key: str) -> None:
    result = _env_client(api_only, api_only_key, "cancel")
    assert result["created"] == [HTTPStatus.OK, "PENDING"]
    assert (result["canceled"], result["fetched"]) == (HTTPStatus.OK, "CANCELED")
