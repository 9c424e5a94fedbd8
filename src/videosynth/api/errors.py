"""The only place that knows HTTP status codes. Every error leaves as {"request_id","code","message"}."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from videosynth.api.context import request_id_of
from videosynth.domain.errors import VideosynthError

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


def error_response(request_id: str, code: str, message: str, status: int | None = None) -> JSONResponse:
    body = {"request_id": request_id, "code": code, "message": message}
    return JSONResponse(body, status_code=status or status_for(code))


async def _on_domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VideosynthError)
    return error_response(request_id_of(request), exc.code, exc.message)


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 405:
        return error_response(request_id_of(request), "MethodNotAllowed", "Method not allowed.", 405)
    if exc.status_code == 404:
        return error_response(request_id_of(request), "NotFound", "The requested resource does not exist.", 404)
    return error_response(request_id_of(request), "InvalidParameter", "Bad request.", exc.status_code)


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("query", "path", "body"))
    message = f"Invalid parameter '{where}': {first.get('msg', 'invalid value')}."
    return error_response(request_id_of(request), "InvalidParameter", message)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    request_id = request_id_of(request)
    log.exception("unhandled error", extra={"request_id": request_id})
    return error_response(request_id, "InternalError", f"An internal error occurred (request_id {request_id}).")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VideosynthError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(Exception, _on_unexpected)
