"""``data:[<media type>][;params];base64,<data>`` (RFC 2397): an input sent inline, as DashScope allows for images."""

from __future__ import annotations

import base64
import binascii
import math

DATA_SCHEME = "data:"


class DataUriError(ValueError):
    """Not a base64 data: URI; the message says why, in words safe to show a client."""


class DataUriTooLarge(DataUriError):
    """The decoded data would be larger than allowed."""


def decode_data_uri(uri: str, max_bytes: int) -> tuple[str | None, bytes]:
    """(media type or None, the decoded bytes). Too large is refused before anything is decoded."""
    if uri[: len(DATA_SCHEME)].lower() != DATA_SCHEME:
        raise DataUriError("it does not start with data:")
    header, comma, payload = uri[len(DATA_SCHEME) :].partition(",")
    if not comma:
        raise DataUriError("there is no ',' before the data")
    params = [part.strip().lower() for part in header.split(";")]
    if params[-1] != "base64":
        raise DataUriError("only ;base64 data is supported")
    if len(payload) > 4 * math.ceil(max_bytes / 3):  # 4 characters of base64 carry 3 bytes
        raise DataUriTooLarge()
    try:
        body = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise DataUriError("the data is not valid base64") from exc
    if len(body) > max_bytes:
        raise DataUriTooLarge()
    media_type = params[0] if len(params) > 1 and params[0] else None
    return media_type, body
