"""FastRoute: a FastAPI route whose endpoint is called bare, for the hot paths (status polls, creates).

FastAPI still matches the route, documents it and handles what it raises (the app's exception handlers, the
dialect's error shape, the metrics' route template); only the per-request dependency solving and parameter
parsing are left out, a cost these paths would pay on every call for inputs they read in a line. The endpoint
is therefore ``async def endpoint(request: Request) -> Response`` and reads its inputs off the request itself;
its OpenAPI description names those inputs (``openapi_inputs``). An endpoint that asks FastAPI for anything
else (a parameter, a ``Depends``, a response model, dependencies of its router or of an ``include_router``) is
refused when it is registered, never silently left unsolved at request time.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import fastapi.routing
from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class FastRouteError(TypeError):
    """A FastRoute endpoint that wants FastAPI to solve something for it."""


class FastRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        # FastAPI's ASGI wrapper around the handler keeps two exit stacks per request for dependencies with
        # yield and handles exceptions a second time; a bare endpoint has no dependencies, and what it raises
        # reaches the app's exception handlers from the middleware all the same.
        self.app = _bare_asgi(self.get_route_handler())

    def get_route_handler(self) -> Endpoint:
        # FastAPI builds the handler when the route is registered, and once more per include_router of its
        # router (with the inclusion's dependencies) when the app first needs it: build_routes makes that a
        # start-up step, so a refusal here is always a start-up error.
        problem = _what_fastapi_would_solve(self.endpoint, _effective_dependant(self), self.response_model)
        if problem:
            methods = ",".join(sorted(self.methods or ()))
            raise FastRouteError(
                f"{methods} {self.path}: a FastRoute endpoint is `async def {self.name}(request: Request) -> "
                f"Response` and gets nothing else from FastAPI, but {problem}. Read the input off the request "
                "(and describe it with openapi_inputs), or register the endpoint as a plain APIRoute."
            )
        endpoint: Endpoint = self.endpoint
        return endpoint


def _bare_asgi(endpoint: Endpoint) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)

    return app


def _effective_dependant(route: APIRoute) -> Dependant:
    """What FastAPI would solve for ``route``: its own dependant, or, while FastAPI builds the route's handler
    for one inclusion of its router (newer FastAPI keeps included routes in place), that inclusion's, which adds
    the include_router(dependencies=...) ones. Older FastAPI copies included routes, so the route's own dependant
    already has them."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and context.original_route is route and context.dependant is not None:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant


def _what_fastapi_would_solve(endpoint: Callable[..., Any], dependant: Dependant, response_model: Any) -> str:
    """Why FastAPI would have work to do for this endpoint ("" when none)."""
    if not inspect.iscoroutinefunction(endpoint):
        return "it is not an async def"
    inputs = [
        *(f"path parameter {p.name!r}" for p in dependant.path_params),
        *(f"query parameter {p.name!r}" for p in dependant.query_params),
        *(f"header {p.alias!r}" for p in dependant.header_params),
        *(f"cookie {p.alias!r}" for p in dependant.cookie_params),
        *(f"body field {p.name!r}" for p in dependant.body_params),
        *(f"dependency {getattr(d.call, '__name__', d.call)!r}" for d in dependant.dependencies),
    ]
    if inputs:
        return f"it asks for {', '.join(inputs)}"
    parameters = list(inspect.signature(endpoint).parameters)
    if parameters != [dependant.request_param_name]:
        return f"its parameters are {parameters}, not one Request"
    if response_model is not None:
        return f"it has a response model ({response_model!r}); return a Response instead"
    return ""


def add_fast_route(
    app: FastAPI,
    route_class: type[FastRoute],
    path: str,
    endpoint: Endpoint,
    method: str,
    openapi_extra: dict[str, Any],
) -> None:
    """Serve ``method path`` with ``endpoint`` as a ``route_class`` route, straight on the app's router: through
    include_router, FastAPI matches a request to the inclusion and then again to the route in it."""
    app.router.add_api_route(
        path, endpoint, methods=[method], route_class_override=route_class, openapi_extra=openapi_extra
    )


def build_routes(app: FastAPI) -> None:
    """Have FastAPI build every route of ``app`` now, included ones too (it builds those on first use), so a
    FastRoute that an include_router gave dependencies fails the app's start-up rather than its requests.
    Building the OpenAPI schema builds them all (and the schema is then ready for its first reader)."""
    app.openapi()


def _parameter(name: str, where: str, required: bool) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string"}}


def openapi_inputs(
    path: Sequence[str] = (),
    headers: Sequence[str] = (),
    optional_headers: Sequence[str] = (),
    json_body: bool = False,
) -> dict[str, Any]:
    """The ``openapi_extra`` describing what a FastRoute endpoint reads off its request (string parameters)."""
    parameters = [
        *(_parameter(name, "path", True) for name in path),
        *(_parameter(name, "header", True) for name in headers),
        *(_parameter(name, "header", False) for name in optional_headers),
    ]
    described: dict[str, Any] = {"parameters": parameters}
    if json_body:
        described["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    return described
