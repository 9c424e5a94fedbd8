"""Every bad input gets a DashScope-shaped JSON error with the contract's status, never a 500 or a traceback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.server import CREATE_PATH, Server, headers

GOOD = {"model": "wan2.7-t2v", "input": {"prompt": "a cat"}}


def _assert_error(response: httpx.Response, status: int, code: str, *needles: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"request_id", "code", "message"}
    assert body["code"] == code
    for needle in needles:
        assert needle in body["message"], body["message"]
    assert "Traceback" not in response.text
    return body


def test_missing_async_header_is_access_denied(api_only: Server) -> None:
    key = api_only.create_key()
    hdrs = {k: v for k, v in headers(key).items() if k != "X-DashScope-Async"}
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=hdrs, json=GOOD)
    body = _assert_error(response, 403, "AccessDenied")
    assert body["message"] == "current user api does not support synchronous calls"


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "No API-key provided."),
        ("Bearer", "No API-key provided."),
        ("Basic abc", "No API-key provided."),
        ("Bearer sk-wrong", "Invalid API-key provided."),
    ],
)
def test_bad_keys_are_401(api_only: Server, authorization: str | None, message: str) -> None:
    hdrs = {"X-DashScope-Async": "enable", "Content-Type": "application/json"}
    if authorization is not None:
        hdrs["Authorization"] = authorization
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=hdrs, json=GOOD)
    assert _assert_error(response, 401, "InvalidApiKey")["message"] == message
    poll = httpx.get(f"{api_only.base_url}/api/v1/tasks/x", headers=hdrs)
    _assert_error(poll, 401, "InvalidApiKey")


def test_revoked_key_stops_working(api_only: Server) -> None:
    from tests.support.server import videosynth

    key = api_only.create_key("short-lived")
    assert httpx.post(api_only.base_url + CREATE_PATH, headers=headers(key), json=GOOD).status_code == 200
    videosynth(api_only.data_dir, "keys", "revoke", "short-lived")
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=headers(key), json=GOOD)
    _assert_error(response, 401, "InvalidApiKey")


BAD_BODIES: list[tuple[Any, str, tuple[str, ...]]] = [
    (
        {**GOOD, "parameters": {"resolution": "720p"}},
        "InvalidParameter",
        ("parameters.resolution", "uppercase"),
    ),
    ({**GOOD, "parameters": {"resolution": "4K"}}, "InvalidParameter", ("'720P'", "'1080P'")),
    ({**GOOD, "parameters": {"ratio": "21:9"}}, "InvalidParameter", ("parameters.ratio", "'3:4'")),
    ({**GOOD, "parameters": {"duration": "5"}}, "InvalidParameter", ("parameters.duration", "2 to 15")),
    ({**GOOD, "parameters": {"duration": 5.5}}, "InvalidParameter", ("parameters.duration",)),
    ({**GOOD, "parameters": {"duration": True}}, "InvalidParameter", ("parameters.duration",)),
    ({**GOOD, "parameters": {"duration": 1}}, "InvalidParameter", ("parameters.duration",)),
    ({**GOOD, "parameters": {"duration": 16}}, "InvalidParameter", ("parameters.duration",)),
    ({**GOOD, "parameters": {"seed": -1}}, "InvalidParameter", ("parameters.seed", "2147483647")),
    ({**GOOD, "parameters": {"seed": 2147483648}}, "InvalidParameter", ("parameters.seed",)),
    ({**GOOD, "parameters": {"watermark": "yes"}}, "InvalidParameter", ("parameters.watermark", "boolean")),
    ({**GOOD, "parameters": {"prompt_extend": 1}}, "InvalidParameter", ("parameters.prompt_extend",)),
    ({**GOOD, "parameters": []}, "InvalidParameter", ("'parameters'",)),
    ({"model": "wan2.7-t2v", "input": {"prompt": ""}}, "InvalidParameter", ("input.prompt",)),
    ({"model": "wan2.7-t2v", "input": {}}, "InvalidParameter", ("input.prompt",)),
    ({"model": "wan2.7-t2v", "input": "a cat"}, "InvalidParameter", ("'input'",)),
    ({"model": "wan2.7-t2v"}, "BadRequest.EmptyInput", ("input",)),
    ({"input": {"prompt": "a cat"}}, "BadRequest.EmptyModel", ("model",)),
    ({"model": "sora-2", "input": {"prompt": "a cat"}}, "InvalidParameter", ("Model not exist.",)),
    (
        {"model": "wan2.6-t2v", "input": {"prompt": "x"}, "parameters": {"size": "1280x720"}},
        "InvalidParameter",
        ("parameters.size", "'1280*720'"),
    ),
    ([1, 2], "InvalidParameter", ("JSON object",)),
    ("hello", "InvalidParameter", ("JSON object",)),
    (None, "InvalidParameter", ("JSON object",)),
]


@pytest.mark.parametrize(("body", "code", "needles"), BAD_BODIES)
def test_invalid_bodies(api_only: Server, api_only_key: str, body: Any, code: str, needles: tuple[str, ...]) -> None:
    key = api_only_key
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=headers(key), json=body)
    _assert_error(response, 400, code, *needles)


@pytest.mark.parametrize(
    ("content", "content_type", "needle"),
    [
        (b"{not json", "application/json", "not valid JSON"),
        (b"", "application/json", "empty"),
        (b"\xff\xfe", "application/json", "UTF-8"),
        (b'{"model": NaN}', "application/json", "NaN"),
        (b"model=wan2.7-t2v", "application/x-www-form-urlencoded", "Content-Type must be application/json"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", "nested too deeply"),
    ],
)
def test_malformed_payloads(
    api_only: Server, api_only_key: str, content: bytes, content_type: str, needle: str
) -> None:
    key = api_only_key
    hdrs = {**headers(key), "Content-Type": content_type}
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=hdrs, content=content)
    _assert_error(response, 400, "InvalidParameter", needle)


def test_oversized_body_is_413(api_only: Server) -> None:
    key = api_only.create_key()
    huge = b'{"model": "wan2.7-t2v", "input": {"prompt": "' + b"a" * (2 << 20) + b'"}}'
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=headers(key), content=huge)
    _assert_error(response, 413, "BadRequest.TooLarge")


def test_unknown_route_and_method_are_json(api_only: Server) -> None:
    _assert_error(httpx.get(f"{api_only.base_url}/api/v1/nope"), 404, "NotFound")
    _assert_error(httpx.delete(api_only.base_url + CREATE_PATH), 405, "MethodNotAllowed")


def test_charset_content_type_and_sdk_extras_are_accepted(api_only: Server) -> None:
    key = api_only.create_key()
    hdrs = {
        **headers(key),
        "Content-Type": "application/json; charset=utf-8",
        "x-dashscope-sdk-client": "python-sdk/2.0.2/aigc",
        "x-dashscope-sdk-session-id": "0" * 32,
    }
    body = {
        "model": "wan2.7-t2v",
        "input": {"prompt": "一只猫", "extend_prompt": True, "function": "video-synthesis"},
        "parameters": {"with_audio": False, "shot_type": "multi"},
    }
    response = httpx.post(api_only.base_url + CREATE_PATH, headers=hdrs, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["output"]["task_status"] == "PENDING"
