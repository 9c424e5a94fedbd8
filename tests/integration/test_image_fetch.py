"""media/image.py: every way an input image can be bad, each with its official code, and the good formats."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from tests.support.images import data_uri, write_bomb_png, write_picture

from videosynth.domain.errors import InputDownloadFailed, InvalidParameter, UnsupportedFileFormat
from videosynth.media.fetch import InputField
from videosynth.media.image import ImageLimits, decode_image, load_image
from videosynth.storage.local import LocalBlobStore
from videosynth.storage.uploads import new_upload_dir, parse_upload_name

FIELD = InputField("the first frame image URL", "image")
OPEN = ImageLimits(max_bytes=200_000, timeout_s=10, allow_private=True, max_pixels=1_000_000)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = Path(tmp_path_factory.mktemp("static"))
    for name in ("cat.png", "cat.jpg", "cat.webp", "cat.bmp"):
        write_picture(root / name, 80, 48)
    write_picture(root / "big.bmp", 400, 400)  # 480 KB of BMP: over the 200 KB limit
    write_bomb_png(root / "bomb.png", 5_000, 5_000)  # refused by our pixel limit, from the header
    write_bomb_png(root / "huge-bomb.png")  # 10000 × 10000: Pillow's own guard trips first
    (root / "notes.png").write_bytes(b"just some text, not an image at all\n" * 10)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", b"secret")


@pytest.mark.parametrize("name", ["cat.png", "cat.jpg", "cat.webp", "cat.bmp"])
def test_each_format_decodes_to_its_pixels(host: str, tmp_path: Path, blobs: LocalBlobStore, name: str) -> None:
    image = load_image(f"{host}/{name}", tmp_path / "in", OPEN, FIELD, blobs)
    assert (image.width, image.height) == (80, 48) and image.pixels.dtype == np.uint8
    if name != "cat.jpg":  # lossless formats give back exactly what was written
        expected = np.asarray(decode_image(tmp_path / "in", OPEN.max_pixels, FIELD).pixels)
        np.testing.assert_array_equal(image.pixels, expected)


def test_a_data_uri_decodes(tmp_path: Path, blobs: LocalBlobStore) -> None:
    image = load_image(data_uri(33, 17), tmp_path / "in", OPEN, FIELD, blobs)
    assert (image.width, image.height) == (33, 17)


@pytest.mark.parametrize(
    ("name", "error", "words"),
    [
        ("missing.png", InputDownloadFailed, "answered HTTP 404"),
        ("notes.png", UnsupportedFileFormat, "is not a JPEG, PNG, WebP or BMP image"),
        ("broken.png", UnsupportedFileFormat, "PNG image at the first frame image URL could not be decoded"),
        ("bomb.png", InvalidParameter, "5000×5000 = 25000000 pixels, more than the 1000000 this server decodes"),
        ("huge-bomb.png", InvalidParameter, "more pixels than the 1000000 this server decodes"),
        ("big.bmp", InputDownloadFailed, "larger than the 200000 bytes limit"),
    ],
)
def test_bad_images_fail_with_their_code(
    host: str, tmp_path: Path, blobs: LocalBlobStore, name: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as info:
        load_image(f"{host}/{name}", tmp_path / "in", OPEN, FIELD, blobs)
    assert type(info.value) is error and words in str(info.value)


def test_private_hosts_are_refused_unless_allowed(host: str, tmp_path: Path, blobs: LocalBlobStore) -> None:
    closed = ImageLimits(max_bytes=200_000, timeout_s=10)
    with pytest.raises(InputDownloadFailed, match="private or local address; not fetched"):
        load_image(f"{host}/cat.png", tmp_path / "in", closed, FIELD, blobs)


def test_an_upload_is_read_from_blob_storage(tmp_path: Path, blobs: LocalBlobStore) -> None:
    name = parse_upload_name(f"oss://{new_upload_dir('key-1', 4_000_000_000)}/cat.png")
    assert name is not None
    write_picture(tmp_path / "cat.png", 40, 30)
    blobs.put_file(name.blob_key, tmp_path / "cat.png", "image/png")
    image = load_image(f"oss://{name.path}", tmp_path / "in", OPEN, FIELD, blobs)
    assert (image.width, image.height) == (40, 30)


@pytest.mark.parametrize("expires", [4_000_000_000, 1_000])  # never stored; stored but expired
def test_a_missing_or_expired_upload_fails_the_download(tmp_path: Path, blobs: LocalBlobStore, expires: int) -> None:
    name = parse_upload_name(f"oss://{new_upload_dir('key-1', expires)}/cat.png")
    assert name is not None
    write_picture(tmp_path / "cat.png", 40, 30)
    if expires < 2_000:
        blobs.put_file(name.blob_key, tmp_path / "cat.png", "image/png")
    with pytest.raises(InputDownloadFailed, match="names no current upload"):
        load_image(f"oss://{name.path}", tmp_path / "in", OPEN, FIELD, blobs)
