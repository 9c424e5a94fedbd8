"""The playground's routes on the real app: the page and its assets, and the two read-only extensions it uses
(GET /api/v1/models, GET /api/v1/tasks/{id}/parameters), with their key checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
ASYNC = {"X-DashScope-Async": "enable"}


@pytest.fixture(scope="module")
def client_and_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str, str]]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("playground")))
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    _, mine = keys.create("mine", 0)
    _, theirs = keys.create("theirs", 0)
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        yield client, mine, theirs


def _auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}", **ASYNC}


def test_the_page_and_its_assets_are_served(client_and_keys: tuple[TestClient, str, str]) -> None:
    client, _, _ = client_and_keys
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 307 and home.headers["location"] == "/playground"
    page = client.get("/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<video id="current-video"' in page.text
    for asset, kind in [("app.js", "javascript"), ("style.css", "text/css")]:
        served = client.get(f"/playground/assets/{asset}")
        assert served.status_code == 200 and kind in served.headers["content-type"]
    assert client.get("/playground/assets/missing.js").status_code == 404


def test_models_need_a_key_and_list_each_models_rules(client_and_keys: tuple[TestClient, str, str]) -> None:
    client, mine, _ = client_and_keys
    refused = client.get("/api/v1/models")
    assert refused.status_code == 401 and refused.json()["code"] == "InvalidApiKey"
    models = {m["name"]: m for m in client.get("/api/v1/models", headers=_auth(mine)).json()["data"]}
    wan27 = models["wan2.7-t2v"]
    assert wan27["protocol"] == "wan2.7" and wan27["sizes"]["720P"]["4:3"] == "1104*832"
    assert wan27["durations"] == list(range(2, 16)) and wan27["default_duration"] == 5
    assert (wan27["prompt_limit"], wan27["negative_prompt_limit"]) == (5000, 500)
    assert (wan27["default_resolution"], wan27["default_ratio"]) == ("720P", "16:9")
    legacy = models["wan2.2-t2v-plus"]
    assert legacy["protocol"] == "legacy" and set(legacy["sizes"]) == {"480P", "1080P"}
    assert legacy["durations"] == [5] and legacy["default_resolution"] == "480P"


def _create(client: TestClient, secret: str, body: dict[str, Any]) -> str:
    created = client.post(CREATE, headers=_auth(secret), json=body)
    assert created.status_code == 200, created.text
    task_id: str = created.json()["output"]["task_id"]
    return task_id


def test_parameters_give_the_body_that_makes_the_same_task_again(
    client_and_keys: tuple[TestClient, str, str],
) -> None:
    client, mine, _ = client_and_keys
    body = {
        "model": "wan2.7-t2v",
        "input": {"prompt": "a kite", "negative_prompt": "rain"},
        "parameters": {"resolution": "720P", "ratio": "9:16", "duration": 3, "watermark": True, "prompt_extend": False},
    }
    task_id = _create(client, mine, body)
    answer = client.get(f"/api/v1/tasks/{task_id}/parameters", headers=_auth(mine)).json()
    seed = client.get(f"/api/v1/tasks/{task_id}", headers=_auth(mine)).json()["output"]["seed"]
    assert answer["task_status"] == "PENDING" and answer["progress"] == 0
    assert answer["body"] == {**body, "parameters": {**body["parameters"], "seed": seed}}
    again = _create(client, mine, answer["body"])
    assert client.get(f"/api/v1/tasks/{again}/parameters", headers=_auth(mine)).json()["body"] == answer["body"]


def test_parameters_of_a_legacy_model_name_its_size(client_and_keys: tuple[TestClient, str, str]) -> None:
    client, mine, _ = client_and_keys
    body = {"model": "wan2.5-t2v-preview", "input": {"prompt": "a kite"}, "parameters": {"size": "832*480"}}
    answer = client.get(f"/api/v1/tasks/{_create(client, mine, body)}/parameters", headers=_auth(mine)).json()
    assert answer["body"]["parameters"]["size"] == "832*480" and "resolution" not in answer["body"]["parameters"]
    assert (answer["resolution"], answer["ratio"]) == ("480P", "16:9")
    assert "negative_prompt" not in answer["body"]["input"]


def test_parameters_of_another_keys_task_are_not_found(client_and_keys: tuple[TestClient, str, str]) -> None:
    client, mine, theirs = client_and_keys
    task_id = _create(client, mine, {"model": "wan2.7-t2v", "input": {"prompt": "mine"}})
    for secret, path in [(theirs, task_id), (mine, "no-such-task")]:
        answer = client.get(f"/api/v1/tasks/{path}/parameters", headers=_auth(secret))
        assert answer.status_code == 404 and answer.json()["code"] == "NotFound"
    assert client.get(f"/api/v1/tasks/{task_id}/parameters").status_code == 401
