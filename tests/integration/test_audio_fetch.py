"""fetch_audio against a real HTTP server on loopback: good files, errors, size and time limits, redirects."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.support.audio import write_tone
from tests.support.net import free_port

from videosynth.domain.errors import InputDownloadFailed
from videosynth.media.audio import decode_audio, fetch_audio

LIMIT = 64 * 1024  # a small max_bytes keeps the oversize cases fast; the logic is the same at 15 MB


class _Handler(BaseHTTPRequestHandler):
    """Routes by path. HTTP/1.0 (the default): a body without Content-Length simply runs until the socket closes."""

    mp3 = b""
    routes: dict[str, Callable[[_Handler], None]]

    def do_GET(self) -> None:
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            route(self)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def head(self, status: int = 200, length: int | None = None, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "audio/mpeg")
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()


def _good(h: _Handler) -> None:
    h.head(length=len(h.mp3))
    h.wfile.write(h.mp3)


def _good_without_length(h: _Handler) -> None:
    h.head()
    h.wfile.write(h.mp3)


def _big_declared(h: _Handler) -> None:
    h.head(length=LIMIT + 1)  # says so up front; the body is never needed
    h.wfile.write(b"\0" * 1024)


def _big_undeclared(h: _Handler) -> None:
    h.head()
    for _ in range(64):  # 4 MiB if nobody stops listening
        h.wfile.write(b"\0" * 65536)


def _huge_declared(h: _Handler) -> None:
    h.head(length=15 * 2**20 + 1)


def _short_declared(h: _Handler) -> None:
    h.head(length=1024)  # claims 1 KiB, then sends more: only what was declared may be read
    for _ in range(64):
        h.wfile.write(b"\1" * 65536)


def _trickle(h: _Handler) -> None:
    h.head(length=1000)
    for _ in range(100):  # 10 s at a byte every 0.1 s: each read is quick, the whole is far too slow
        h.wfile.write(b"\0")
        h.wfile.flush()
        time.sleep(0.1)


def _stall(h: _Handler) -> None:
    h.head(length=1000)
    h.wfile.flush()
    time.sleep(5)  # headers, then silence


def _redirect(target: str, status: int = 302) -> Callable[[_Handler], None]:
    def route(h: _Handler) -> None:
        h.head(status, length=0, Location=target)

    return route


ROUTES: dict[str, Callable[[_Handler], None]] = {
    "/good.mp3": _good,
    "/no-length.mp3": _good_without_length,
    "/big-declared": _big_declared,
    "/big-undeclared": _big_undeclared,
    "/huge-declared": _huge_declared,
    "/short-declared": _short_declared,
    "/trickle": _trickle,
    "/stall": _stall,
    "/redirect": _redirect("/good.mp3"),
    "/redirect-twice": _redirect("/redirect", 301),
    "/redirect-loop": _redirect("/redirect-loop"),
    "/redirect-file": _redirect("file:///etc/passwd"),
    "/server-error": lambda h: h.send_error(500),
}


@pytest.fixture(scope="module")
def mp3(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_tone(tmp_path_factory.mktemp("audio") / "tone.mp3", "mp3", 3.0).read_bytes()


@pytest.fixture(scope="module")
def base_url(mp3: bytes) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"mp3": mp3, "routes": ROUTES})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # slow routes may still be sleeping when the module ends
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _fails(url: str, dest: Path, match: str, **kwargs: Any) -> InputDownloadFailed:
    with pytest.raises(InputDownloadFailed, match=match) as caught:
        fetch_audio(url, dest, **kwargs)
    assert caught.value.code == "BadRequest.InputDownloadFailed"
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no partial file left behind
    return caught.value


# ---------------------------------------------------------------------------------------------------- success


@pytest.mark.parametrize("path", ["/good.mp3", "/no-length.mp3", "/redirect", "/redirect-twice"])
def test_fetches_the_file(base_url: str, tmp_path: Path, mp3: bytes, path: str) -> None:
    dest = tmp_path / "audio"
    assert fetch_audio(f"{base_url}{path}?sig=abc", dest, LIMIT * 4) == dest
    assert dest.read_bytes() == mp3
    assert decode_audio(dest).duration == pytest.approx(3.0, abs=0.01)
    assert [p.name for p in tmp_path.iterdir()] == ["audio"]


# ---------------------------------------------------------------------------------------------------- failure


@pytest.mark.parametrize(("path", "status"), [("/missing.mp3", 404), ("/server-error", 500)])
def test_refuses_non_2xx(base_url: str, tmp_path: Path, path: str, status: int) -> None:
    error = _fails(f"{base_url}{path}?token=secret", tmp_path / "a", rf"127\.0\.0\.1 failed: .*HTTP {status}")
    assert "secret" not in error.message and path not in error.message  # only the host is shown


@pytest.mark.parametrize("path", ["/big-declared", "/big-undeclared"])
def test_refuses_files_over_the_limit(base_url: str, tmp_path: Path, path: str) -> None:
    _fails(f"{base_url}{path}", tmp_path / "a", r"127\.0\.0\.1 is larger than the 65536 bytes limit", max_bytes=LIMIT)


def test_default_limit_is_15_mb(base_url: str, tmp_path: Path) -> None:
    start = time.monotonic()
    _fails(f"{base_url}/huge-declared", tmp_path / "a", "larger than the 15 MB limit")
    assert time.monotonic() - start < 1.0  # refused on the header, not after waiting for a body


def test_reads_no_more_than_the_declared_length(base_url: str, tmp_path: Path) -> None:
    dest = fetch_audio(f"{base_url}/short-declared", tmp_path / "a", max_bytes=LIMIT)
    assert dest.read_bytes() == b"\1" * 1024


@pytest.mark.parametrize("path", ["/trickle", "/stall"])
def test_gives_up_at_the_deadline(base_url: str, tmp_path: Path, path: str) -> None:
    start = time.monotonic()
    _fails(f"{base_url}{path}", tmp_path / "a", r"127\.0\.0\.1 timed out after 0\.5 s", timeout_s=0.5)
    assert time.monotonic() - start < 1.5


def test_bounds_redirects(base_url: str, tmp_path: Path) -> None:
    _fails(f"{base_url}/redirect-loop", tmp_path / "a", "redirected more than 2 times", max_redirects=2)


def test_refuses_a_redirect_to_another_scheme(base_url: str, tmp_path: Path) -> None:
    _fails(f"{base_url}/redirect-file", tmp_path / "a", r"127\.0\.0\.1 redirected to an unsupported location")


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("ftp://example.com/a.mp3", "scheme 'ftp' is not supported"),
        ("file:///etc/passwd", "scheme 'file' is not supported"),
        ("oss://dashscope-instant/a.mp3", "scheme 'oss' is not supported"),
        ("example.com/a.mp3", "scheme none is not supported"),
        ("http:///a.mp3", "no host"),
        ("http://[::1/a.mp3", "not a valid URL"),
    ],
)
def test_refuses_non_http_urls_without_connecting(tmp_path: Path, url: str, match: str) -> None:
    _fails(url, tmp_path / "a", match)


def test_refuses_private_addresses_when_asked(base_url: str, tmp_path: Path) -> None:
    _fails(f"{base_url}/good.mp3", tmp_path / "a", "127.0.0.1 is a private or local address", allow_private=False)


def test_reports_a_refused_connection(tmp_path: Path) -> None:
    port = free_port()  # a port that was just free: nothing listens there
    _fails(f"http://127.0.0.1:{port}/a.mp3", tmp_path / "a", r"Could not connect to 127\.0\.0\.1")
