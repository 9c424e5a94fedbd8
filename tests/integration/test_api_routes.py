"""The poll paths are served by lean Starlette routes ahead of FastAPI's (api/deps.add_lean_get): same answers,
same error shape, still documented in OpenAPI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings

POLL_PATHS = ("/api/v1/tasks/{task_id}", "/wan/api/v1/tasks/{task_id}", "/v1/tasks/{task_id}")
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


@pytest.fixture(scope="module")
def client_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    app_settings = Settings(data_dir=Path(tmp_path_factory.mktemp("routes")))
    compose.prepare_database(app_settings, auto_migrate=True)
    _, keys = compose.stores(app_settings)
    _, secret = keys.create("routes", 0)
    with TestClient(build_app(app_settings), raise_server_exceptions=False) as client:
        yield client, secret


def test_every_poll_path_answers_its_dialect(client_and_key: tuple[TestClient, str]) -> None:
    client, secret = client_and_key
    auth = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    task_id = client.post(CREATE, headers=auth, json={"model": "wan2.7-t2v", "input": {"prompt": "x"}}).json()
    task_id = task_id["output"]["task_id"]
    for path in POLL_PATHS[:2]:
        body = client.get(path.format(task_id=task_id), headers=auth).json()
        assert body["output"]["task_id"] == task_id and body["output"]["task_status"] == "PENDING"
        assert body["output"]["orig_prompt"] == "x" and "submit_time" in body["output"]
    relayed = client.get(POLL_PATHS[2].format(task_id=task_id), headers=auth).json()
    assert relayed == {"task_id": task_id, "status": "submitted", "progress": 0, "result_url": None, "error": None}


def test_poll_errors_keep_the_dashscope_shape(client_and_key: tuple[TestClient, str]) -> None:
    client, secret = client_and_key
    for path in POLL_PATHS:
        url = path.format(task_id="some-task")
        unauthorised = client.get(url, headers={"Authorization": "Bearer sk-wrong"})
        assert unauthorised.status_code == 401 and unauthorised.json()["code"] == "InvalidApiKey"
        assert unauthorised.headers["x-request-id"] == unauthorised.json()["request_id"]
        wrong_method = client.put(url, headers={"Authorization": f"Bearer {secret}"})
        assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "MethodNotAllowed"


def test_poll_paths_stay_documented(client_and_key: tuple[TestClient, str]) -> None:
    client, _ = client_and_key
    paths = client.get("/openapi.json").json()["paths"]
    for path in POLL_PATHS:
        names = {parameter["name"] for parameter in paths[path]["get"]["parameters"]}
        assert names == {"task_id", "Authorization"}
