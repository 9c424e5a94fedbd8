"""The only place that knows HTTP status codes, and the app's exception handlers.

Each wire dialect renders its own error bodies: its routes are DialectRoutes, whose ``render_error`` turns an
ApiError into that dialect's JSON (DashScope's ``{"request_id","code","message"}``, OpenAI's ``{"error":{...}}``).
A handler renders with the route the request matched (for a 405 too: the route that has the path), and with the
app's default renderer when none matched or the route names no dialect.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from videosynth.api.context import request_id_of
from videosynth.domain.errors import InvalidField, VideosynthError

log = logging.getLogger(__name__)

_STATUS_BY_CODE: dict[str, int] = {
    "InvalidParameter": 400,
    "DataInspectionFailed": 400,
    "BadRequest.EmptyInput": 400,
    "BadRequest.EmptyParameters": 400,
    "BadRequest.EmptyModel": 400,
    "InvalidURL": 400,
    "UnsupportedOperation": 400,
    "InvalidApiKey": 401,
    "AccessDenied": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "Conflict": 409,
    "RequestTimeOut": 408,
    "BadRequest.TooLarge": 413,
    "BadRequest.InputDownloadFailed": 415,
    "BadRequest.UnsupportedFileFormat": 415,
    "Throttling": 429,
    "Throttling.RateQuota": 429,
    "Throttling.AllocationQuota": 429,
    "InternalError": 500,
    "ServiceUnavailable": 503,
}


def status_for(code: str) -> int:
    return _STATUS_BY_CODE.get(code, 500)


@dataclass(frozen=True)
class ApiError:
    """One failed request, whatever the dialect: its id, the (DashScope) error code, and the HTTP status;
    ``param`` is the neutral name of the request field at fault (domain.draft.Field), where one is."""

    request_id: str
    code: str
    message: str
    status: int
    param: str | None = None


# An error's JSON body in one dialect.
ErrorRenderer = Callable[[ApiError], dict[str, Any]]


class DialectRoute(APIRoute, abc.ABC):
    """A route of one wire dialect: how that dialect's error bodies look."""

    @abc.abstractmethod
    def render_error(self, error: ApiError) -> dict[str, Any]: ...


def _renderer(request: Request) -> ErrorRenderer:
    route = request.scope.get("route")
    if isinstance(route, DialectRoute):
        return route.render_error
    default: ErrorRenderer = request.app.state.default_error_renderer
    return default


def error_response(
    request: Request,
    code: str,
    message: str,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    param: str | None = None,
) -> JSONResponse:
    error = ApiError(request_id_of(request), code, message, status or status_for(code), param)
    return JSONResponse(_renderer(request)(error), status_code=error.status, headers=headers)


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VideosynthError)
    param = exc.field or None if isinstance(exc, InvalidField) else None
    return error_response(request, exc.code, exc.message, param=param)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:  # keeps its Allow header
        return error_response(request, "MethodNotAllowed", "Method not allowed.", 405, exc.headers)
    if exc.status_code == 404:
        return error_response(request, "NotFound", "The requested resource does not exist.", 404)
    return error_response(request, "InvalidParameter", "Bad request.", exc.status_code, exc.headers)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body"))
    message = f"Invalid parameter '{where}': {first.get('msg', 'invalid value')}."
    return error_response(request, "InvalidParameter", message, param=where or None)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    log.exception("unhandled error", extra={"request_id": request_id})
    return error_response(request, "InternalError", f"An internal error occurred (request_id {request_id}).")


def install_error_handlers(app: FastAPI, default_renderer: ErrorRenderer) -> None:
    """Every error the app answers, rendered by the matched route's dialect, else by ``default_renderer``."""
    app.state.default_error_renderer = default_renderer
    app.add_exception_handler(VideosynthError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
