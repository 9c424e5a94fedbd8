"""Content safety on the real app: a blocklist and a loopback moderation endpoint refuse prompts before they are
queued (400 DataInspectionFailed), and an endpoint that is down follows moderation_on_error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.support.fake_moderation import API_KEY, FakeModeration, running_moderation_server
from tests.support.net import free_port

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.safety.check import prompt_safety
from videosynth.settings import Settings

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
REFUSED = {"code": "DataInspectionFailed", "message": "Input or output data may contain inappropriate content."}


@pytest.fixture(scope="module")
def moderation() -> Iterator[FakeModeration]:
    with running_moderation_server() as server:
        yield server


def _serve(root: Path, **fields: Any) -> tuple[TestClient, str, Settings]:
    settings = Settings(data_dir=root, **fields)
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    _, secret = keys.create("safety", 0)
    return TestClient(build_app(settings), raise_server_exceptions=False), secret, settings


def _create(client: TestClient, secret: str, prompt: str, negative: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"model": "wan2.7-t2v", "input": {"prompt": prompt}}
    if negative is not None:
        body["input"]["negative_prompt"] = negative
    headers = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    return client.post(CREATE, headers=headers, json=body)


def _pending(settings: Settings) -> int:
    tasks, _ = compose.stores(settings)
    return tasks.count_pending()


def test_nothing_configured_means_no_check() -> None:
    assert prompt_safety(Settings()) is None


def test_blocklist_refuses_before_queueing_and_counts(tmp_path: Path) -> None:
    blocklist = tmp_path / "blocklist.txt"
    blocklist.write_text("# refused terms\nGore\n暴力\n", encoding="utf-8")
    client, secret, settings = _serve(tmp_path, prompt_blocklist=blocklist)
    with client:
        for prompt, negative in [("a film full of gore", None), ("一段暴力的视频", None), ("a cat", "ＧＯＲＥ")]:
            refused = _create(client, secret, prompt, negative)
            assert refused.status_code == 400, refused.text
            assert {name: refused.json()[name] for name in REFUSED} == REFUSED
            assert refused.json()["request_id"]
        openai = client.post("/v1/videos", headers={"Authorization": f"Bearer {secret}"}, json={"prompt": "gore"})
        assert openai.status_code == 400, openai.text
        assert _pending(settings) == 0  # never queued
        assert _create(client, secret, "a cat dancing in the rain").status_code == 200
        assert _pending(settings) == 1
        scraped = client.get("/metrics").text
    assert 'videosynth_prompt_checks_total{outcome="blocked"} 4.0' in scraped
    assert 'videosynth_prompt_checks_total{outcome="passed"} 1.0' in scraped


def test_moderation_endpoint_flags_prompts(tmp_path: Path, moderation: FakeModeration) -> None:
    client, secret, settings = _serve(
        tmp_path, moderation_base_url=moderation.base_url, moderation_api_key=API_KEY, moderation_model="omni-mod"
    )
    with client:
        flagged = _create(client, secret, "a FORBIDDEN scene")
        assert flagged.status_code == 400 and flagged.json()["code"] == "DataInspectionFailed", flagged.text
        assert _create(client, secret, "a lighthouse", "forbidden things").status_code == 400  # negative too
        assert _create(client, secret, "a lighthouse", "blurry").status_code == 200
    assert moderation.received[-1] == {"input": ["a lighthouse", "blurry"], "model": "omni-mod"}
    assert _pending(settings) == 1


@pytest.mark.parametrize(("policy", "status", "outcome"), [("allow", 200, "allowed"), ("refuse", 503, "refused")])
def test_an_endpoint_that_is_down_follows_the_policy(tmp_path: Path, policy: str, status: int, outcome: str) -> None:
    down = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    client, secret, settings = _serve(tmp_path, moderation_base_url=down, moderation_on_error=policy)
    with client:
        answered = _create(client, secret, "a lighthouse")
        scraped = client.get("/metrics").text
    assert answered.status_code == status, answered.text
    if status == 503:
        assert answered.json()["code"] == "ServiceUnavailable"
    assert _pending(settings) == (1 if policy == "allow" else 0)
    assert f'videosynth_prompt_checks_total{{outcome="unavailable_{outcome}"}} 1.0' in scraped


def test_an_endpoint_answering_errors_is_down_too(tmp_path: Path, moderation: FakeModeration) -> None:
    client, secret, _ = _serve(
        tmp_path, moderation_base_url=moderation.base_url, moderation_api_key=API_KEY, moderation_on_error="refuse"
    )
    moderation.status = 500
    try:
        with client:
            assert _create(client, secret, "a lighthouse").status_code == 503
    finally:
        moderation.status = 200
