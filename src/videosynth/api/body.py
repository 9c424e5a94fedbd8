"""Read a JSON request body defensively: any malformed input is a 400 that says what is wrong."""

from __future__ import annotations

import json

from fastapi import Request

from videosynth.domain.errors import InvalidParameter, TooLarge

MAX_BODY_BYTES = 1 << 20  # a 5000-character prompt is < 20 KB in UTF-8


def _reject_constant(name: str) -> object:
    raise InvalidParameter(f"The request body is not valid JSON: {name} is not allowed.")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode  # built once: json.loads(**kw) builds one per call


async def read_json(request: Request) -> object:
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        shown = content_type or "none"
        raise InvalidParameter(f"Content-Type must be application/json, got {shown}.")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise TooLarge(f"The request body exceeds {MAX_BODY_BYTES} bytes.")
    if not raw.strip():
        raise InvalidParameter("The request body is empty; expected a JSON object.")
    try:
        return _decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidParameter("The request body is not valid UTF-8.") from exc
    except json.JSONDecodeError as exc:
        raise InvalidParameter(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from exc
    except RecursionError as exc:
        raise InvalidParameter("The request body is nested too deeply.") from exc
