"""The hot paths (status polls, creates), dispatched inside the request-context layer, ahead of FastAPI's
exception middleware, async exit stack and router.

Measured in-process on this project's 2-core machine, a status poll cost ~200 us through the whole app and
~140 us at its endpoint: ~30 % went to layers these paths need nothing from (route matching over every route,
FastAPI's and Starlette's wrappers around the endpoint). A request whose method and path match a hot route is
answered here; errors go to the app's own exception handlers, so the answers, the DashScope error shape and the
metrics' route template are the same. Everything else (and a hot path with another method, which is a 405)
goes through the app as usual. Each hot path keeps its FastAPI route, as its OpenAPI description.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class HotRoute:
    method: str
    path: str  # the template, as the metrics label requests (api/metrics.route_template)
    path_regex: re.Pattern[str]
    endpoint: Endpoint


class HotRoutes:
    """The app's hot routes (in app.state.hot_routes); route modules add theirs when they register."""

    def __init__(self) -> None:
        self.routes: list[HotRoute] = []

    def add(self, method: str, path: str, endpoint: Endpoint) -> None:
        path_regex, _format, _convertors = compile_path(path)
        self.routes.append(HotRoute(method, path, path_regex, endpoint))

    def match(self, scope: Scope) -> tuple[HotRoute, dict[str, str]] | None:
        path: str = scope["path"]
        root_path: str = scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        for route in self.routes:
            if route.method == scope["method"]:
                found = route.path_regex.match(path)
                if found:
                    return route, found.groupdict()
        return None


class HotRoutesMiddleware:
    def __init__(self, app: ASGIApp, routes: HotRoutes) -> None:
        self._app = app
        self._routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._routes.match(scope) if scope["type"] == "http" else None
        if matched is None:
            await self._app(scope, receive, send)
            return
        route, scope["path_params"] = matched
        scope["route"] = route
        request = Request(scope, receive)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            response = await _handled(request, exc)
        await response(scope, receive, send)


async def _handled(request: Request, exc: Exception) -> Response:
    """The response the app's exception handlers give ``exc`` (the most specific class registered wins)."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None:
            response: Response = await handler(request, exc)
            return response
    raise exc
