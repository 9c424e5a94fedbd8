"""The callback URL a create (X-Webhook-Url) or an API key names: an absolute http(s) URL with a host.

Only its form is checked here, when it is given; whether its host may be reached (no private or loopback
address unless the operator allows it) is decided at each delivery, since DNS answers change.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from videosynth.domain.errors import InvalidParameter

MAX_URL_LENGTH = 2048  # the column's width


def checked_webhook_url(value: str | None) -> str | None:
    """``value`` stripped, None when absent or blank; InvalidParameter when it is not an http(s) URL."""
    if value is None or not value.strip():
        return None
    url = value.strip()
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter(f"X-Webhook-Url is longer than {MAX_URL_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise InvalidParameter("X-Webhook-Url is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidParameter("X-Webhook-Url must be an http or https URL.")
    if not parts.hostname or any(char.isspace() for char in url) or port == 0:
        raise InvalidParameter("X-Webhook-Url is not a valid URL.")
    return url
