"""A duration the registry entry serving a model cannot make is refused at create (HTTP 400), not failed later
by the worker that claimed it: the app reads the registry it is built with (api/app.py build_app)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.cli import app
from videosynth.settings import Settings

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"

# Every public name goes to a demo entry that makes at most 49 frames: 3 s at its 16 fps.
REGISTRY = """
default = "short"

[models.short]
checkpoint = "demo:wan2.1"
steps = 4
max_pixels = 4096
max_frames = 49
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    root = Path(tmp_path_factory.mktemp("limits"))
    (root / "registry.toml").write_text(REGISTRY)
    settings = Settings(data_dir=root, model_registry=root / "registry.toml")
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    _, secret = keys.create("limits", 0)
    headers = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        yield client, headers, settings


def _create(served: tuple[TestClient, dict[str, str], Settings], model: str, **params: object) -> httpx.Response:
    client, headers, _ = served
    body = {"model": model, "input": {"prompt": "a lighthouse"}, "parameters": params}
    return client.post(CREATE, headers=headers, json=body)


def _duration_of(served: tuple[TestClient, dict[str, str], Settings], response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    tasks, _ = compose.stores(served[2])
    task = tasks.get(response.json()["output"]["task_id"])
    assert task is not None
    return task.request.duration


def test_a_duration_longer_than_the_entry_makes_is_refused_at_create(
    served: tuple[TestClient, dict[str, str], Settings],
) -> None:
    response = _create(served, "wan2.7-t2v", duration=10)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "InvalidParameter"
    assert body["message"] == (
        "parameters.duration for model wan2.7-t2v must be an integer from 2 to 3 (seconds) on this server "
        "(the checkpoint serving it makes at most 49 frames at 16 fps), got 10 (an integer)."
    )


def test_a_duration_the_entry_makes_is_accepted(served: tuple[TestClient, dict[str, str], Settings]) -> None:
    assert _duration_of(served, _create(served, "wan2.7-t2v", duration=3)) == 3
    assert _duration_of(served, _create(served, "wan2.6-t2v", size="1280*720", duration=2)) == 2


def test_no_duration_asked_is_the_longest_the_entry_makes(served: tuple[TestClient, dict[str, str], Settings]) -> None:
    assert _duration_of(served, _create(served, "wan2.7-t2v")) == 3  # the documented default, 5, does not fit


def test_a_model_none_of_whose_durations_fit_is_refused(served: tuple[TestClient, dict[str, str], Settings]) -> None:
    response = _create(served, "wan2.5-t2v-preview")  # 5 or 10 s only
    assert response.status_code == 400
    assert response.json()["message"] == (
        "parameters.duration for model wan2.5-t2v-preview must be one of the integers 5, 10 (seconds), which this "
        "server cannot make (the checkpoint serving it makes at most 49 frames at 16 fps)."
    )


def test_serve_with_a_malformed_registry_says_so_and_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.toml").write_text('[models.m]\ncheckpoint = "/m"\nmax_frames = 80\n')
    monkeypatch.setenv("VIDEOSYNTH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VIDEOSYNTH_MODEL_REGISTRY", str(tmp_path / "registry.toml"))
    result = CliRunner().invoke(app, ["serve", "--no-worker"])
    assert result.exit_code == 1
    assert "registry.toml: [models.'m'] max_frames must be k·4+1, got 80" in result.output
