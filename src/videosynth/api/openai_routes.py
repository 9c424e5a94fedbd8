"""The OpenAI dialect's route classes: its error body ``{"error": {"message", "type", "param", "code"}}``, with the
HTTP statuses the openai SDK maps to its exception classes (400, 401, 403, 404, 409, 429, 500)."""

from __future__ import annotations

from typing import Any

from videosynth.api.errors import ApiError, DialectRoute
from videosynth.api.fast_route import FastRoute
from videosynth.api.openai_wire import param_name

# OpenAI's codes for the errors it names; any other keeps its DashScope code.
_CODES = {
    "InvalidApiKey": "invalid_api_key",
    "NotFound": "not_found",
    "Conflict": "conflict",
    "Throttling": "rate_limit_exceeded",
    "Throttling.RateQuota": "rate_limit_exceeded",
    "InvalidParameter": "invalid_value",
    "BadRequest.EmptyModel": "invalid_value",
    "AccessDenied": "access_denied",
    "InternalError": "server_error",
}


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def render_openai_error(error: ApiError) -> dict[str, Any]:
    return {
        "error": {
            "message": error.message,
            "type": _error_type(error.status),
            "param": param_name(error.param),
            "code": _CODES.get(error.code, error.code),
        }
    }


class OpenAIRoute(DialectRoute):
    def render_error(self, error: ApiError) -> dict[str, Any]:
        return render_openai_error(error)


class OpenAIFastRoute(FastRoute, OpenAIRoute):
    """An OpenAI route whose endpoint is called bare (fast_route.py)."""
