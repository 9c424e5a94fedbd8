"""The DashScope dialect's route classes: its error body, on routes served bare (the hot paths) or through
FastAPI's parameter handling. apiyi's paths and the signed downloads answer errors the same way."""

from __future__ import annotations

from typing import Any

from videosynth.api.errors import ApiError, DialectRoute
from videosynth.api.fast_route import FastRoute


def render_dashscope_error(error: ApiError) -> dict[str, Any]:
    """DashScope's error body: the keys at the top level (the SDKs read code, message and request_id)."""
    return {"request_id": error.request_id, "code": error.code, "message": error.message}


class DashScopeRoute(DialectRoute):
    def render_error(self, error: ApiError) -> dict[str, Any]:
        return render_dashscope_error(error)


class DashScopeFastRoute(FastRoute, DashScopeRoute):
    """A DashScope route whose endpoint is called bare (fast_route.py)."""
