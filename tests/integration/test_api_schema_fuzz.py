"""schemathesis against the app's own OpenAPI schema, every dialect's routes (DashScope, apiyi, OpenAI videos, ops
and files), on a real `videosynth serve --no-worker` on loopback: no input makes a 5xx, every response with a
documented schema matches it, and every route that takes an API key answers 401 without one.

Bounded and reproducible: a fixed number of examples per operation and hypothesis derandomized (a fixed seed), so
CI runs the same cases every time in well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from tests.support.server import Server

EXAMPLES_PER_OPERATION = 12
# No API key by design: probes and signed result links (their signature is the credential).
# Key-free by design: probes, signed result links, the playground's page, and the SDK's upload form (authorised
# by the signed policy it carries, as OSS's is).
PUBLIC_PATHS = {"/healthz", "/readyz", "/files/{key}", "/api/v1/uploads/oss", "/wan/api/v1/uploads/oss"}
DASHSCOPE_CREATE = {"model": "wan2.7-t2v", "input": {"prompt": "a lighthouse"}, "parameters": {"duration": 2}}
VALID_CREATES = {
    "/api/v1/services/aigc/video-generation/video-synthesis": DASHSCOPE_CREATE,
    "/wan/api/v1/services/aigc/video-generation/video-synthesis": DASHSCOPE_CREATE,
    "/v1/videos": {"model": "wan2.7-t2v", "prompt": "a lighthouse", "seconds": "4"},
}
# Generous limits: the fuzzer's creates should reach validation, not the per-key quota.
ENV = {"VIDEOSYNTH_KEY_MAX_QUEUED": "100000", "VIDEOSYNTH_KEY_RATE_PER_MIN": "100000"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    server = Server(Path(tmp_path_factory.mktemp("schema-fuzz")), ENV, worker=False).start()
    try:
        yield server, server.create_key("fuzz")
    finally:
        server.stop()


def _auth_header(case: Any) -> str | None:
    """The case's API key header as the operation names it (some routes declare it lower-case)."""
    names = [*(case.headers or {}), *(parameter.name for parameter in case.operation.headers)]
    return next((str(name) for name in names if str(name).lower() == "authorization"), None)


def _exercise(case: Any, server: Server, key: str) -> None:
    header = _auth_header(case)
    case.headers = dict(case.headers or {})
    if header is not None:
        case.headers[header] = f"Bearer {key}"  # past authentication: the fuzzer's inputs reach the route
    if "X-DashScope-Async" in case.headers:
        case.headers["X-DashScope-Async"] = "enable"
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    answered = case.call_and_validate(base_url=server.base_url, checks=checks)
    if case.body is VALID_CREATES.get(case.operation.path):
        assert answered.status_code == 200, answered.text

    if case.operation.path in PUBLIC_PATHS:
        return
    assert header is not None, f"{case.operation.method} {case.operation.path} takes no API key"
    del case.headers[header]
    anonymous = case.call(base_url=server.base_url)
    assert anonymous.status_code == 401, (case.operation.path, anonymous.text)
    case.headers[header] = "Bearer sk-not-a-key"
    forged = case.call(base_url=server.base_url)
    assert forged.status_code == 401, (case.operation.path, forged.text)


def test_no_input_breaks_the_api(served: tuple[Server, str]) -> None:
    server, key = served
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 19  # every dialect's routes are in the schema
    for operation in operations:

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,  # a fixed seed: the same cases on every run
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def fuzz(case: Any) -> None:
            _exercise(case, server, key)

        try:
            fuzz()
            if operation.method.upper() == "POST" and operation.path in VALID_CREATES:
                # Random bodies are refused at validation; one valid create per dialect checks the 200's schema.
                dashscope = {"X-DashScope-Async": "enable"} if operation.path.endswith("video-synthesis") else {}
                body = VALID_CREATES[operation.path]
                valid = operation.Case(body=body, headers=dashscope, media_type="application/json")
                _exercise(valid, server, key)
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
