"""Fetching a client's input file (``audio_url`` now, an image next): http(s) or a ``data:`` URI, bounded.

Every failure a client can cause is InputDownloadFailed with a message that is safe to show: it names the request
field and the URL's host and what went wrong, never the full URL (its query may carry a signature) and never
library internals. The underlying exception stays chained (``raise … from``) for the server's own logs.

SSRF: the URL comes from an API client and is fetched from inside the deployment, so it could point at internal
services (cloud metadata at 169.254.169.254, admin ports on loopback). ``allow_private=False`` refuses hosts that
resolve to any non-global address, checked on every redirect hop. The check resolves the name separately from
the connection, so DNS rebinding can slip past it; a proxy that enforces egress rules is the complete answer.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from videosynth.domain.errors import InputDownloadFailed
from videosynth.media.data_uri import DATA_SCHEME, DataUriError, DataUriTooLarge, decode_data_uri

MAX_REDIRECTS = 5
_STALL_S = 10.0  # longest single network wait; see fetch_input on how the total time is bounded
_USER_AGENT = "videosynth-input-fetch/1"
# Ask for the bytes as stored: then Content-Length is the real size, and nothing is inflated on the way in.
_REQUEST_HEADERS = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class InputField:
    """Names for messages: the request field (``audio_url``) and what it holds (``audio file``)."""

    name: str
    noun: str


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_s: float
    # Private, loopback and link-local hosts are refused unless allowed (a LAN-only deployment may allow them).
    allow_private: bool = False
    max_redirects: int = MAX_REDIRECTS
    data_uris: bool = True  # also take ``data:<type>;base64,…`` (no network at all)


@dataclass(frozen=True)
class Fetched:
    path: Path
    # As declared by the server or the data: URI, parameters dropped; None when none was. A hint only: the
    # bytes decide (audio sniffs them), since a client controls the header as much as the body.
    content_type: str | None


def fetch_input(url: str, dest: Path, limits: FetchLimits, field: InputField) -> Fetched:
    """Download ``url`` to ``dest`` (whose folder must exist); InputDownloadFailed otherwise.

    http(s), also on every redirect hop (followed here, at most ``max_redirects``). A Content-Length over
    ``max_bytes`` is refused before the body is read, and the body is cut off as soon as it passes ``max_bytes``
    (servers may omit the length; h11 never reads past a declared one). The download is given ``timeout_s`` in all:
    the deadline is checked after every chunk received, so a server that trickles bytes cannot stretch it, and
    each network wait (connect, one read) is capped at the time left when the request went out and at
    ``_STALL_S``, so a silent server is given up on too. httpx cannot change a read timeout mid-body, so the worst
    case is the deadline plus one stalled read (≤ ``_STALL_S``); DNS lookups are not bounded by httpx at all.
    A data: URI is decoded under the same size limit. ``dest`` appears only once the whole body has arrived.
    """
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    try:
        if limits.data_uris and url[: len(DATA_SCHEME)].lower() == DATA_SCHEME:
            content_type = _save_data_uri(url, tmp, limits, field)
        else:
            content_type = _download(url, tmp, limits, field)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return Fetched(dest, content_type)


def _save_data_uri(url: str, tmp: Path, limits: FetchLimits, field: InputField) -> str | None:
    try:
        content_type, body = decode_data_uri(url, limits.max_bytes)
    except DataUriTooLarge as exc:
        raise InputDownloadFailed(too_large(field, f"in {field.name}", limits.max_bytes)) from exc
    except DataUriError as exc:
        raise InputDownloadFailed(f"{field.name} is not a valid data: URI: {exc}.") from exc
    tmp.write_bytes(body)
    return content_type


def _download(url: str, tmp: Path, limits: FetchLimits, field: InputField) -> str | None:
    target = _parse_http_url(url, field, limits.data_uris)
    host = target.host
    deadline = time.monotonic() + limits.timeout_s
    try:
        # trust_env stays on so that operator-configured proxies (HTTPS_PROXY) are honoured.
        with httpx.Client(follow_redirects=False, headers=_REQUEST_HEADERS) as client:
            response = _follow(client, target, deadline, limits, field)
            host = response.url.host
            try:
                _check_status(response, field)
                _check_length(response, limits.max_bytes, field)
                _save(response, tmp, limits, deadline, field)
                return _media_type(response.headers.get("content-type"))
            finally:
                response.close()
    except httpx.TimeoutException as exc:
        raise InputDownloadFailed(_timed_out(field, host, limits.timeout_s)) from exc
    except httpx.ConnectError as exc:
        raise InputDownloadFailed(f"Could not connect to {host} to download {field.name}.") from exc
    except httpx.HTTPError as exc:
        raise InputDownloadFailed(f"Downloading {field.name} from {host} failed: the connection broke off.") from exc


def _parse_http_url(url: str, field: InputField, data_uris: bool) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InputDownloadFailed(f"{field.name} is not a valid URL.") from exc
    if parsed.scheme not in ("http", "https"):
        shown = f"'{parsed.scheme}'" if parsed.scheme else "none"
        kinds = "an http(s) URL or a data: URI" if data_uris else "an http(s) URL"
        raise InputDownloadFailed(f"{field.name} must be {kinds} (scheme {shown} is not supported).")
    if not parsed.host:
        raise InputDownloadFailed(f"{field.name} has no host.")
    return parsed


def _follow(
    client: httpx.Client, url: httpx.URL, deadline: float, limits: FetchLimits, field: InputField
) -> httpx.Response:
    """The first non-redirect response, opened for streaming. Redirects are followed here rather than by httpx
    so that every hop gets the scheme and address checks and the remaining share of the deadline."""
    for _ in range(limits.max_redirects + 1):
        if not limits.allow_private:
            refuse_private(url, field)
        request = client.build_request("GET", url, timeout=_timeout(deadline))
        try:
            response = client.send(request, stream=True)
        except httpx.InvalidURL as exc:  # httpx parses a Location (for next_request) even when not following it
            raise InputDownloadFailed(f"{field.name} at {url.host} redirected to an unsupported location.") from exc
        location = response.headers.get("location")
        if not (response.is_redirect and location):
            return response
        response.close()
        try:
            # A redirect may only lead to http(s): a data: URI there would be the server's content, not the client's.
            url = _parse_http_url(str(url.join(location)), field, data_uris=False)
        except (InputDownloadFailed, httpx.InvalidURL) as exc:
            raise InputDownloadFailed(f"{field.name} at {url.host} redirected to an unsupported location.") from exc
    raise InputDownloadFailed(f"{field.name} at {url.host} redirected more than {limits.max_redirects} times.")


def _timeout(deadline: float) -> httpx.Timeout:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.TimeoutException("deadline passed")
    return httpx.Timeout(min(left, _STALL_S))


def refuse_private(url: httpx.URL, field: InputField) -> None:
    """InputDownloadFailed unless every address ``url``'s host resolves to is a global one."""
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = resolve(url.host, port)
    except OSError as exc:
        raise InputDownloadFailed(f"Could not resolve {url.host} to download {field.name}.") from exc
    # An IPv4-mapped IPv6 address (::ffff:10.0.0.1) reaches the IPv4 host: judge that one.
    mapped = [a.ipv4_mapped if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped else a for a in addresses]
    if not all(address.is_global for address in mapped):
        raise InputDownloadFailed(f"{field.name} host {url.host} is a private or local address; not fetched.")


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (the name service's answer, as a connection would get it)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]  # drop an IPv6 zone id


def _check_status(response: httpx.Response, field: InputField) -> None:
    if not response.is_success:
        raise InputDownloadFailed(
            f"Downloading {field.name} from {response.url.host} failed: "
            f"the server answered HTTP {response.status_code}."
        )


def _check_length(response: httpx.Response, max_bytes: int, field: InputField) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InputDownloadFailed(too_large(field, f"at {response.url.host}", max_bytes))


def _save(response: httpx.Response, tmp: Path, limits: FetchLimits, deadline: float, field: InputField) -> None:
    received = 0
    with open(tmp, "wb") as out:
        for chunk in response.iter_bytes():  # no chunk_size: httpx would buffer up to it before the checks run
            received += len(chunk)
            if received > limits.max_bytes:
                raise InputDownloadFailed(too_large(field, f"at {response.url.host}", limits.max_bytes))
            if time.monotonic() > deadline:  # a server trickling bytes never trips the per-read timeout
                raise InputDownloadFailed(_timed_out(field, response.url.host, limits.timeout_s))
            out.write(chunk)


def _media_type(header: str | None) -> str | None:
    media_type = (header or "").split(";")[0].strip().lower()
    return media_type or None


def _timed_out(field: InputField, host: str, timeout_s: float) -> str:
    return f"Downloading {field.name} from {host} timed out after {timeout_s:g} s."


def too_large(field: InputField, where: str, max_bytes: int) -> str:
    return f"The {field.noun} {where} is larger than the {_megabytes(max_bytes)} limit."


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size} bytes"
