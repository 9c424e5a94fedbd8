"""Read a request body (JSON, or a form) defensively: any malformed input is a 400 that says what is wrong."""

from __future__ import annotations

import email.parser
import email.policy
import json
import urllib.parse

from fastapi import Request

from videosynth.domain.errors import InvalidParameter, TooLarge

MAX_BODY_BYTES = 1 << 20  # a 5000-character prompt is < 20 KB in UTF-8


def _reject_constant(name: str) -> object:
    raise InvalidParameter(f"The request body is not valid JSON: {name} is not allowed.")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode  # built once: json.loads(**kw) builds one per call


def media_type(request: Request) -> str:
    """The request's Content-Type without its parameters, lowercased ("" when none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_bytes(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, refused (TooLarge) once it passes ``limit`` bytes."""
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise TooLarge(f"The request body exceeds {limit} bytes.")
    return bytes(raw)


async def read_json(request: Request) -> object:
    if media_type(request) != "application/json":
        shown = request.headers.get("content-type", "") or "none"
        raise InvalidParameter(f"Content-Type must be application/json, got {shown}.")
    return decode_json(await read_bytes(request))


def decode_json(raw: bytes) -> object:
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


async def read_form(request: Request) -> tuple[dict[str, str], set[str]]:
    """A multipart/form-data (or urlencoded) body: its text fields, and the names of the fields that are file
    uploads. Parsed with the standard library (python-multipart, FastAPI's form parser, is not needed)."""
    raw = await read_bytes(request)
    kind = media_type(request)
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(urllib.parse.parse_qsl(raw.decode("utf-8"), keep_blank_values=True)), set()
        except UnicodeDecodeError as exc:
            raise InvalidParameter("The request body is not valid UTF-8.") from exc
    head = f"Content-Type: {request.headers.get('content-type', '')}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvalidParameter("The multipart/form-data body could not be read (is its boundary right?).")
    fields: dict[str, str] = {}
    files: set[str] = set()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename() is not None:
            files.add(name)
            continue
        try:
            fields[name] = data.decode(part.get_content_charset() or "utf-8")
        except (UnicodeDecodeError, LookupError) as exc:
            raise InvalidParameter(f"The form field '{name}' is not valid UTF-8.") from exc
    return fields, files
