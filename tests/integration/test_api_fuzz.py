"""No body, however malformed, makes the create route answer 500 or leak a traceback (property-based)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
field_values = st.sampled_from(
    [None, True, 0, -1, 5, 5.5, "5", "", "720P", "720p", "16:9", "1280*720", [], {}, 2**63, "x" * 6000]
)
bodies = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["wan2.7-t2v", "wan2.6-t2v", "wanx2.1-t2v-plus", "nope", "", None, 3]),
        "input": st.fixed_dictionaries(
            {}, optional={"prompt": field_values, "negative_prompt": field_values, "audio_url": field_values}
        )
        | json_values,
        "parameters": st.dictionaries(
            st.sampled_from(["resolution", "ratio", "duration", "seed", "watermark", "prompt_extend", "size"]),
            field_values,
        )
        | json_values,
    },
)


@pytest.fixture(scope="module")
def client_and_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    data_dir = Path(tmp_path_factory.mktemp("fuzz"))
    app_settings = Settings(data_dir=data_dir)
    compose.prepare_database(app_settings, auto_migrate=True)
    _, keys = compose.stores(app_settings)
    _, secret = keys.create("fuzz", 0)
    with TestClient(build_app(app_settings), raise_server_exceptions=False) as client:
        yield client, secret


def _check(response: Any) -> None:
    assert response.status_code in {200, 400, 413}, response.text
    assert response.headers["content-type"] == "application/json"
    assert "Traceback" not in response.text
    if response.status_code != 200:
        assert set(response.json()) == {"request_id", "code", "message"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_structured_bodies(client_and_key: tuple[TestClient, str], body: dict[str, Any]) -> None:
    client, key = client_and_key
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable", "Content-Type": "application/json"}
    _check(client.post(CREATE, headers=headers, content=json.dumps(body)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bytes(client_and_key: tuple[TestClient, str], raw: bytes) -> None:
    client, key = client_and_key
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable", "Content-Type": "application/json"}
    _check(client.post(CREATE, headers=headers, content=raw))
