"""FastRoute calls its endpoint bare, so anything FastAPI would have to solve for it is refused at registration."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from videosynth.api.fast_route import FastRoute, FastRouteError, add_fast_route, build_routes, openapi_inputs


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"task_id": request.path_params["task_id"], "auth": request.headers.get("authorization")})


async def needs_a_key() -> str:
    return "key"


async def with_query(request: Request, page: int = 1) -> JSONResponse:
    return JSONResponse({})


async def with_header(request: Request, authorization: Annotated[str | None, Header()] = None) -> JSONResponse:
    return JSONResponse({})


async def with_dependency(request: Request, key: Annotated[str, Depends(needs_a_key)]) -> JSONResponse:
    return JSONResponse({})


async def without_request() -> JSONResponse:
    return JSONResponse({})


def synchronous(request: Request) -> JSONResponse:
    return JSONResponse({})


async def returns_a_model(request: Request) -> dict[str, Any]:
    return {}


def test_the_endpoint_gets_the_request_and_is_documented_by_what_it_reads() -> None:
    app = FastAPI()
    add_fast_route(app, FastRoute, "/tasks/{task_id}", echo, "GET", openapi_inputs(["task_id"], ["Authorization"]))
    with TestClient(app) as client:
        assert client.get("/tasks/t1", headers={"Authorization": "Bearer k"}).json() == {
            "task_id": "t1",
            "auth": "Bearer k",
        }
        [operation] = client.get("/openapi.json").json()["paths"]["/tasks/{task_id}"].values()
    assert [(p["name"], p["in"], p["required"]) for p in operation["parameters"]] == [
        ("task_id", "path", True),
        ("Authorization", "header", True),
    ]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        (with_query, "query parameter 'page'"),
        (with_header, "header 'authorization'"),
        (with_dependency, "dependency 'needs_a_key'"),
        (without_request, "not one Request"),
        (synchronous, "not an async def"),
        (returns_a_model, "response model"),
    ],
)
def test_an_endpoint_that_wants_fastapi_to_solve_something_is_refused_when_registered(
    endpoint: Any, problem: str
) -> None:
    router = APIRouter(route_class=FastRoute)
    with pytest.raises(FastRouteError, match=problem) as refused:
        router.add_api_route("/x", endpoint)
    assert "GET /x" in str(refused.value) and "plain APIRoute" in str(refused.value)


def test_route_and_router_dependencies_are_refused_too() -> None:
    with pytest.raises(FastRouteError, match="dependency 'needs_a_key'"):
        APIRouter(route_class=FastRoute).add_api_route("/x", echo, dependencies=[Depends(needs_a_key)])
    with pytest.raises(FastRouteError, match="dependency 'needs_a_key'"):
        APIRouter(route_class=FastRoute, dependencies=[Depends(needs_a_key)]).add_api_route("/x", echo)


def test_dependencies_an_include_adds_are_refused_when_the_app_builds_its_routes() -> None:
    """Left unsolved, an include_router(dependencies=[an auth check]) would skip the check on every request.
    create_app builds the routes (build_routes) before it returns the app."""
    router = APIRouter(route_class=FastRoute)
    router.add_api_route("/tasks/{task_id}", echo)
    plain = FastAPI()
    plain.include_router(router, prefix="/plain")
    build_routes(plain)  # nothing to solve
    guarded = FastAPI()
    guarded.include_router(router, prefix="/guarded", dependencies=[Depends(needs_a_key)])
    with pytest.raises(FastRouteError, match=r"GET /tasks/\{task_id\}.*dependency 'needs_a_key'"):
        build_routes(guarded)
