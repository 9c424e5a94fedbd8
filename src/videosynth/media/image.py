"""A client's input image (an image-to-video first or last frame): fetched, sniffed and decoded within limits.

http(s) and ``data:`` URIs go through ``media.fetch`` (size and time limits, private addresses refused unless
allowed: the policy of ``audio_url``); an ``oss://`` name is a file the same key uploaded (``storage.uploads``),
read from blob storage. The bytes decide the format, never a header or the name: JPEG, PNG, WebP or BMP, decoded
by Pillow with only that format's decoder. The pixel count is checked from the header before any pixel is
decoded, so a decompression bomb (a small file of huge dimensions) costs nothing.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

from videosynth.domain.errors import InvalidParameter, UnsupportedFileFormat
from videosynth.media.fetch import FetchLimits, InputField, fetch_input
from videosynth.media.uploaded import copy_upload, is_upload
from videosynth.storage.protocols import BlobStore

# Magic bytes → Pillow format name. Only these decoders are ever tried.
_FORMATS = {b"\xff\xd8\xff": "JPEG", b"\x89PNG\r\n\x1a\n": "PNG", b"BM": "BMP"}


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 10 * 2**20  # upstream: ≤ 10 MB
    timeout_s: float = 30.0
    allow_private: bool = False
    max_pixels: int = 25_000_000


@dataclass(frozen=True)
class InputImage:
    pixels: npt.NDArray[np.uint8]  # (height, width, 3) RGB, as the image is shown (EXIF orientation applied)

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def load_image(url: str, dest: Path, limits: ImageLimits, field: InputField, blobs: BlobStore) -> InputImage:
    """Fetch ``url`` to ``dest`` and decode it; the official error codes for each way that can fail."""
    if is_upload(url):
        copy_upload(url, dest, limits.max_bytes, field, blobs)
    else:
        fetch = FetchLimits(limits.max_bytes, limits.timeout_s, allow_private=limits.allow_private)
        fetch_input(url, dest, fetch, field)
    return decode_image(dest, limits.max_pixels, field)


def sniff_format(head: bytes) -> str | None:
    """The Pillow format name of an image starting with ``head`` (12 bytes suffice); None if none we take."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in _FORMATS.items() if head.startswith(magic)), None)


def decode_image(path: Path, max_pixels: int, field: InputField) -> InputImage:
    with open(path, "rb") as f:
        kind = sniff_format(f.read(12))
    if kind is None:
        raise UnsupportedFileFormat(f"The file at {field.name} is not a JPEG, PNG, WebP or BMP image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path, formats=[kind]) as image:
                _check_pixels(image.size, max_pixels, field)  # from the header: nothing decoded yet
                shown = ImageOps.exif_transpose(image).convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard (its MAX_IMAGE_PIXELS) met a header beyond even that: ours is lower still.
        raise InvalidParameter(
            f"The image at {field.name} has more pixels than the {max_pixels} this server decodes."
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:  # SyntaxError: Pillow's parsers
        raise UnsupportedFileFormat(f"The {kind} image at {field.name} could not be decoded.") from exc
    return InputImage(np.asarray(shown, dtype=np.uint8))


def _check_pixels(size: tuple[int, int], max_pixels: int, field: InputField) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise UnsupportedFileFormat(f"The image at {field.name} has no pixels.")
    if width * height > max_pixels:
        raise InvalidParameter(
            f"The image at {field.name} is {width}×{height} = {width * height} pixels, more than the "
            f"{max_pixels} this server decodes."
        )
