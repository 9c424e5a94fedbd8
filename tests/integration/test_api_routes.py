"""The poll and create paths are FastRoutes (api/fast_route.py): registered once, matched and documented by
FastAPI, errors in the DashScope shape, counted under their route template, and served under a root_path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.api.fast_route import FastRoute
from videosynth.settings import Settings

POLL_PATHS = ("/api/v1/tasks/{task_id}", "/wan/api/v1/tasks/{task_id}", "/v1/tasks/{task_id}")
CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"
IMAGE_CREATE = "/api/v1/services/aigc/image2video/video-synthesis"  # where the SDK sends the kf2v models
CREATE_PATHS = (CREATE, "/wan" + CREATE, IMAGE_CREATE, "/wan" + IMAGE_CREATE)


@pytest.fixture(scope="module")
def settings_and_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, str]:
    app_settings = Settings(data_dir=Path(tmp_path_factory.mktemp("routes")))
    compose.prepare_database(app_settings, auto_migrate=True)
    _, keys = compose.stores(app_settings)
    _, secret = keys.create("routes", 0)
    return app_settings, secret


@pytest.fixture(scope="module")
def client_and_key(settings_and_key: tuple[Settings, str]) -> Iterator[tuple[TestClient, str]]:
    app_settings, secret = settings_and_key
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


@pytest.mark.parametrize("given", [{"seed": 42}, {}])
def test_a_poll_returns_the_tasks_seed_given_or_chosen(
    client_and_key: tuple[TestClient, str], given: dict[str, int]
) -> None:
    client, secret = client_and_key
    auth = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    body = {"model": "wan2.7-t2v", "input": {"prompt": "x"}, "parameters": given}
    task_id = client.post(CREATE, headers=auth, json=body).json()["output"]["task_id"]
    seeds = {client.get(path.format(task_id=task_id), headers=auth).json()["output"]["seed"] for path in POLL_PATHS[:2]}
    [seed] = seeds  # the same on every poll path
    assert type(seed) is int and 0 <= seed <= 2_147_483_647
    assert seed == given.get("seed", seed)


def test_poll_errors_keep_the_dashscope_shape(client_and_key: tuple[TestClient, str]) -> None:
    client, secret = client_and_key
    for path in POLL_PATHS:
        url = path.format(task_id="some-task")
        unauthorised = client.get(url, headers={"Authorization": "Bearer sk-wrong"})
        assert unauthorised.status_code == 401 and unauthorised.json()["code"] == "InvalidApiKey"
        assert unauthorised.headers["x-request-id"] == unauthorised.json()["request_id"]
        wrong_method = client.put(url, headers={"Authorization": f"Bearer {secret}"})
        assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "MethodNotAllowed"
        assert wrong_method.headers["allow"] == "GET"
        assert set(wrong_method.json()) == {"request_id", "code", "message"}


def test_each_hot_path_is_documented_once_with_the_inputs_it_reads(client_and_key: tuple[TestClient, str]) -> None:
    client, _ = client_and_key
    app = cast(FastAPI, client.app)
    paths = client.get("/openapi.json").json()["paths"]
    for path in POLL_PATHS:
        assert set(paths[path]) == {"get"}, path
        names = [parameter["name"] for parameter in paths[path]["get"]["parameters"]]
        assert sorted(names) == ["Authorization", "task_id"]
    for path in CREATE_PATHS:
        documented = paths[path]["post"]
        assert [(p["name"], p["in"], p["required"]) for p in documented["parameters"]] == [
            ("Authorization", "header", True),
            ("X-DashScope-Async", "header", True),
            ("Idempotency-Key", "header", False),
            ("X-Webhook-Url", "header", False),
        ]
        assert "application/json" in documented["requestBody"]["content"]
    registered = [route.path for route in app.router.routes if isinstance(route, FastRoute)]
    openai_paths = ["/v1/videos", "/v1/videos/{task_id}"]  # the OpenAI dialect's create and retrieve
    assert sorted(registered) == sorted([*POLL_PATHS, *CREATE_PATHS, *openai_paths])  # each registered once


def serving_route(client: TestClient, method: str, path: str) -> object:
    """The route of the app's own router a request is dispatched to (the first full match)."""
    app = cast(FastAPI, client.app)
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    return next(route for route in app.router.routes if route.matches(scope)[0] is Match.FULL)


@pytest.mark.parametrize(("method", "path"), [("GET", POLL_PATHS[0]), ("GET", POLL_PATHS[2]), ("POST", CREATE)])
def test_the_hot_paths_are_fast_routes(client_and_key: tuple[TestClient, str], method: str, path: str) -> None:
    client, _ = client_and_key
    route = serving_route(client, method, path.format(task_id="t"))
    assert isinstance(route, FastRoute) and route.path == path
    assert not isinstance(serving_route(client, "GET", "/api/v1/tasks"), FastRoute)  # the listing solves its query


def test_hot_requests_are_counted_under_their_route_template(client_and_key: tuple[TestClient, str]) -> None:
    client, secret = client_and_key
    for path in POLL_PATHS:
        client.get(path.format(task_id="no-such-task"), headers={"Authorization": f"Bearer {secret}"})
    client.post(CREATE, headers={"Authorization": "Bearer sk-wrong"}, json={})
    metrics = client.get("/metrics").text
    for template in POLL_PATHS:
        assert f'method="GET",route="{template}"' in metrics
    assert f'code="401",method="POST",route="{CREATE}"' in metrics
    assert "no-such-task" not in metrics


def test_an_unexpected_failure_on_a_hot_path_is_an_internal_error_with_the_request_id(
    client_and_key: tuple[TestClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, secret = client_and_key
    app = cast(FastAPI, client.app)

    async def broken(*_args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(app.state.service, "poll", broken)
    response = client.get(POLL_PATHS[0].format(task_id="t"), headers={"Authorization": f"Bearer {secret}"})
    body = response.json()
    assert response.status_code == 500 and body["code"] == "InternalError"
    assert body["request_id"] in body["message"] and "fire" not in response.text


def test_create_errors_keep_the_dashscope_shape_and_stay_documented(client_and_key: tuple[TestClient, str]) -> None:
    client, secret = client_and_key
    auth = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    bad = client.post(CREATE, headers=auth, json={"model": "wan2.7-t2v", "input": {}})
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter"
    assert bad.headers["x-request-id"] == bad.json()["request_id"]
    assert client.post(CREATE, headers={"Authorization": "Bearer sk-no"}, json={}).json()["code"] == "InvalidApiKey"
    wrong_method = client.get(CREATE, headers=auth)
    assert wrong_method.status_code == 405 and wrong_method.json()["code"] == "MethodNotAllowed"
    documented = client.get("/openapi.json").json()["paths"][CREATE]["post"]
    assert {parameter["name"] for parameter in documented["parameters"]} >= {"Authorization", "X-DashScope-Async"}


@pytest.mark.parametrize(
    ("extra", "body"),
    [
        ({"X-DashScope-Async": "enable"}, {"model": "wan2.7-t2v", "input": {}}),  # an invalid body
        ({"X-DashScope-Async": "enable"}, "not json"),
        ({}, {"model": "wan2.7-t2v", "input": {"prompt": "x"}}),  # a synchronous call
        ({"X-DashScope-Async": "enable", "Idempotency-Key": "x" * 300}, {"model": "wan2.7-t2v", "input": {}}),
    ],
)
def test_a_bad_key_is_reported_before_what_else_is_wrong_with_a_create(
    client_and_key: tuple[TestClient, str], extra: dict[str, str], body: object
) -> None:
    client, secret = client_and_key
    for authorization, code in (("Bearer sk-wrong", 401), (f"Bearer {secret}", None)):
        headers = {"Authorization": authorization, "Content-Type": "application/json", **extra}
        response = client.post(CREATE, headers=headers, content=json.dumps(body))
        if code is not None:
            assert (response.status_code, response.json()["message"]) == (401, "Invalid API-key provided.")
        else:  # the same request with a good key: refused for its own fault
            assert response.status_code in (400, 403) and response.json()["code"] != "InvalidApiKey"


def test_the_hot_paths_are_served_under_a_root_path(settings_and_key: tuple[Settings, str]) -> None:
    """Behind a proxy that strips /proxy (uvicorn --root-path /proxy): the same routes, templates and errors."""
    app_settings, secret = settings_and_key
    auth = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    with TestClient(build_app(app_settings), root_path="/proxy") as client:
        created = client.post("/proxy" + CREATE, headers=auth, json={"model": "wan2.7-t2v", "input": {"prompt": "x"}})
        task_id = created.json()["output"]["task_id"]
        polled = client.get(f"/proxy/api/v1/tasks/{task_id}", headers=auth).json()
        assert polled["output"]["task_id"] == task_id and polled["output"]["task_status"] == "PENDING"
        unauthorised = client.get("/proxy/v1/tasks/x", headers={"Authorization": "Bearer sk-wrong"})
        assert unauthorised.status_code == 401 and unauthorised.json()["code"] == "InvalidApiKey"
        schema = client.get("/proxy/openapi.json").json()
        assert schema["servers"] == [{"url": "/proxy"}] and POLL_PATHS[0] in schema["paths"]
        metrics = client.get("/proxy/metrics").text
        assert f'route="{POLL_PATHS[0]}"' in metrics and f'route="{CREATE}"' in metrics and "/proxy" not in metrics
