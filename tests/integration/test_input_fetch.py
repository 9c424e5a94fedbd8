"""media/fetch: the shared input fetcher. data: URIs, and the http(s) limits under another field than audio_url.

The http(s) cases audio_url shares (timeouts, redirect bounds, schemes, refused connections) are in
test_audio_fetch; this file covers what is new or not audio's: data: URIs, the declared content type, messages
naming the caller's field, and the address check on every hop.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from videosynth.domain.errors import InputDownloadFailed
from videosynth.media import fetch
from videosynth.media.fetch import FetchLimits, InputField, fetch_input, refuse_private

IMG_URL = InputField("img_url", "image")
LIMIT = 1024
LIMITS = FetchLimits(max_bytes=LIMIT, timeout_s=5.0, allow_private=True)
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        routes = {
            "/image.png": lambda: self._send(200, PNG, content_type="Image/PNG; charset=binary"),
            "/untyped": lambda: self._send(200, PNG, content_type=None),
            "/big": lambda: self._send(200, b"\0" * (LIMIT + 1), content_type="image/png"),
            "/to-metadata": lambda: self._send(302, b"", location="http://169.254.169.254/latest/meta-data/"),
            "/to-data": lambda: self._send(302, b"", location="data:image/png;base64,iVBORw0K"),
        }
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            routes.get(self.path, lambda: self.send_error(404))()

    def _send(self, status: int, body: bytes, content_type: str | None = None, location: str | None = None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        if location is not None:
            self.send_header("Location", location)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _data_uri(body: bytes, header: str = "image/png") -> str:
    return f"data:{header};base64,{base64.b64encode(body).decode()}"


def _fails(url: str, dest: Path, match: str, limits: FetchLimits = LIMITS) -> None:
    with pytest.raises(InputDownloadFailed, match=match) as caught:
        fetch_input(url, dest, limits, IMG_URL)
    assert caught.value.code == "BadRequest.InputDownloadFailed"
    assert list(dest.parent.iterdir()) == []  # nothing left behind, not even a partial file


# ----------------------------------------------------------------------------------------------------- data:


@pytest.mark.parametrize(
    ("header", "content_type"),
    [("image/png", "image/png"), ("IMAGE/JPEG;name=a.jpg", "image/jpeg"), ("", None)],
)
def test_a_data_uri_is_decoded_with_its_media_type(tmp_path: Path, header: str, content_type: str | None) -> None:
    fetched = fetch_input(_data_uri(PNG, header), tmp_path / "image", LIMITS, IMG_URL)
    assert (fetched.path, fetched.content_type) == (tmp_path / "image", content_type)
    assert fetched.path.read_bytes() == PNG
    assert [p.name for p in tmp_path.iterdir()] == ["image"]


def test_a_data_uri_has_the_same_size_limit(tmp_path: Path) -> None:
    exactly = fetch_input(_data_uri(b"x" * LIMIT), tmp_path / "ok", LIMITS, IMG_URL)
    assert exactly.path.stat().st_size == LIMIT
    exactly.path.unlink()
    _fails(_data_uri(b"x" * (LIMIT + 1)), tmp_path / "a", "The image in img_url is larger than the 1024 bytes limit")
    # Far too long: refused on its length, before any of it is decoded.
    _fails("data:image/png;base64," + "A" * (10 * LIMIT), tmp_path / "a", "larger than the 1024 bytes limit")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("data:image/png,rawbytes", "only ;base64 data is supported"),
        ("data:image/png;base64,not*base64!", "the data is not valid base64"),
        ("data:image/png;base64,QUJ", "the data is not valid base64"),  # cut short
        ("data:image/png;base64", "there is no ',' before the data"),
    ],
)
def test_a_malformed_data_uri_is_refused(tmp_path: Path, url: str, match: str) -> None:
    _fails(url, tmp_path / "a", rf"img_url is not a valid data: URI: {match}")


def test_data_uris_can_be_turned_off(tmp_path: Path) -> None:
    limits = FetchLimits(max_bytes=LIMIT, timeout_s=5.0, data_uris=False)
    _fails(
        _data_uri(PNG), tmp_path / "a", r"img_url must be an http\(s\) URL \(scheme 'data' is not supported\)", limits
    )
    _fails("ftp://example.com/a.png", tmp_path / "a", r"must be an http\(s\) URL or a data: URI \(scheme 'ftp'")


# ---------------------------------------------------------------------------------------------------- http(s)


@pytest.mark.parametrize(("path", "content_type"), [("/image.png", "image/png"), ("/untyped", None)])
def test_a_download_returns_the_file_and_its_declared_type(
    base_url: str, tmp_path: Path, path: str, content_type: str | None
) -> None:
    fetched = fetch_input(f"{base_url}{path}", tmp_path / "image", LIMITS, IMG_URL)
    assert (fetched.path.read_bytes(), fetched.content_type) == (PNG, content_type)


def test_messages_name_the_callers_field(base_url: str, tmp_path: Path) -> None:
    _fails(f"{base_url}/big", tmp_path / "a", r"The image at 127\.0\.0\.1 is larger than the 1024 bytes limit")
    _fails(f"{base_url}/missing", tmp_path / "a", r"Downloading img_url from 127\.0\.0\.1 failed: .*HTTP 404")
    private = FetchLimits(max_bytes=LIMIT, timeout_s=5.0, allow_private=False)
    _fails(f"{base_url}/image.png", tmp_path / "a", r"img_url host 127\.0\.0\.1 is a private or local address", private)


def test_every_redirect_hop_is_checked_again(base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server is on loopback: let the check see it as a public host, so the first hop is allowed and
    # only the redirect's target, the cloud metadata address, is judged by its real address.
    real_resolve = fetch.resolve

    def public_test_server(host: str, port: int) -> list[fetch.Address]:
        return [ipaddress.ip_address("93.184.216.34")] if host == "127.0.0.1" else real_resolve(host, port)

    monkeypatch.setattr(fetch, "resolve", public_test_server)
    guarded = FetchLimits(max_bytes=LIMIT, timeout_s=5.0, allow_private=False)

    assert fetch_input(f"{base_url}/image.png", tmp_path / "first-hop", guarded, IMG_URL).path.read_bytes() == PNG
    (tmp_path / "first-hop").unlink()
    _fails(f"{base_url}/to-metadata", tmp_path / "a", "img_url host 169.254.169.254 is a private or local", guarded)
    # A server cannot turn its redirect into inline content either.
    _fails(f"{base_url}/to-data", tmp_path / "a", r"img_url at 127\.0\.0\.1 redirected to an unsupported location")


@pytest.mark.parametrize(
    "host",
    [
        *("10.0.0.1", "192.168.1.20", "127.0.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"),
        *("[::1]", "[fe80::1]", "[fc00::1]", "[::ffff:10.0.0.1]"),
    ],
)
def test_private_loopback_and_link_local_addresses_are_refused(host: str) -> None:
    with pytest.raises(InputDownloadFailed, match="is a private or local address; not fetched"):
        refuse_private(httpx.URL(f"http://{host}/a.png"), IMG_URL)


@pytest.mark.parametrize("host", ["93.184.216.34", "[2606:4700:4700::1111]", "[::ffff:93.184.216.34]"])
def test_global_addresses_pass_the_check(host: str) -> None:
    refuse_private(httpx.URL(f"https://{host}/a.png"), IMG_URL)  # no exception, and nothing was connected to
