"""Errors are rendered by the dialect of the route that failed; statuses come from errors.py alone."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from videosynth.api.context import RequestContextMiddleware
from videosynth.api.dashscope_routes import DashScopeFastRoute, render_dashscope_error
from videosynth.api.errors import ApiError, DialectRoute, install_error_handlers
from videosynth.api.fast_route import FastRoute, add_fast_route, build_routes
from videosynth.domain.errors import InvalidApiKey, RateQuota


def render_tiny_error(error: ApiError) -> dict[str, Any]:
    """A second dialect's shape (as OpenAI's {"error": {...}} would be)."""
    return {"error": {"message": error.message, "code": error.code, "status": error.status, "id": error.request_id}}


class TinyRoute(DialectRoute):
    def render_error(self, error: ApiError) -> dict[str, Any]:
        return render_tiny_error(error)


class TinyFastRoute(FastRoute, TinyRoute):
    pass


async def refuses_the_key(request: Request) -> JSONResponse:
    raise InvalidApiKey()


async def throttles(request: Request) -> JSONResponse:
    raise RateQuota("slow down")


async def breaks(request: Request) -> JSONResponse:
    raise RuntimeError("secret detail")


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app, default_renderer=render_dashscope_error)
    app.add_middleware(RequestContextMiddleware)
    add_fast_route(app, TinyFastRoute, "/tiny/key", refuses_the_key, "GET", {})
    add_fast_route(app, TinyFastRoute, "/tiny/broken", breaks, "GET", {})
    add_fast_route(app, DashScopeFastRoute, "/dashscope/key", refuses_the_key, "GET", {})
    tiny = APIRouter(route_class=TinyRoute)

    @tiny.get("/page")
    async def page(number: int) -> dict[str, int]:
        return {"number": number}

    tiny.add_api_route("/throttled", throttles, methods=["POST"])
    app.include_router(tiny, prefix="/tiny")
    build_routes(app)
    return TestClient(app, raise_server_exceptions=False)


def test_a_domain_error_takes_the_shape_of_its_routes_dialect(client: TestClient) -> None:
    tiny = client.get("/tiny/key")
    assert tiny.status_code == 401
    request_id = tiny.headers["x-request-id"]
    assert tiny.json() == {
        "error": {"message": "Invalid API-key provided.", "code": "InvalidApiKey", "status": 401, "id": request_id}
    }
    dashscope = client.get("/dashscope/key")
    assert dashscope.status_code == 401
    assert dashscope.json() == {
        "request_id": dashscope.headers["x-request-id"],
        "code": "InvalidApiKey",
        "message": "Invalid API-key provided.",
    }


def test_routes_with_parameters_and_included_routes_render_in_their_dialect(client: TestClient) -> None:
    throttled = client.post("/tiny/throttled")
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "Throttling.RateQuota"
    invalid = client.get("/tiny/page", params={"number": "many"})
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "InvalidParameter"
    assert "number" in invalid.json()["error"]["message"]


def test_a_wrong_method_is_a_405_of_the_dialect_that_has_the_path(client: TestClient) -> None:
    for path in ("/tiny/key", "/tiny/page"):
        wrong = client.delete(path)
        assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
        assert wrong.json()["error"]["code"] == "MethodNotAllowed"
    assert client.delete("/dashscope/key").json()["code"] == "MethodNotAllowed"


def test_an_unexpected_failure_is_an_internal_error_in_the_dialect_with_no_detail(client: TestClient) -> None:
    broken = client.get("/tiny/broken")
    assert broken.status_code == 500
    error = broken.json()["error"]
    assert error["code"] == "InternalError" and error["id"] in error["message"]
    assert "secret detail" not in broken.text


def test_a_path_no_route_has_gets_the_default_dialect(client: TestClient) -> None:
    missing = client.get("/nowhere")
    assert missing.status_code == 404 and set(missing.json()) == {"request_id", "code", "message"}
