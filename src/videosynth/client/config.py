"""Where the server is and which key to use: arguments first, then the environment."""

from __future__ import annotations

import os

from videosynth.client.errors import AuthenticationError

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
BASE_URL_ENV = "VIDEOSYNTH_BASE_URL"
API_KEY_ENV = "DASHSCOPE_API_KEY"


def resolve_base_url(base_url: str | None) -> str:
    """The server's root URL; a DashScope-style base ending in /api/v1 (as the dashscope SDK takes) is accepted."""
    url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    return url.removesuffix("/api/v1").rstrip("/")


def resolve_api_key(api_key: str | None) -> str:
    key = api_key or os.environ.get(API_KEY_ENV)
    if not key:
        raise AuthenticationError("InvalidApiKey", f"No API key: pass api_key= or set {API_KEY_ENV}.")
    return key
