"""Input images for the image-to-video tests: real encoded files, and the bad ones a client might send."""

from __future__ import annotations

import base64
import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def picture(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels, mode="RGB")


def write_picture(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """An RGB image of random pixels in the format the suffix names (.png, .jpg, .webp, .bmp)."""
    picture(width, height, seed).save(path)
    return path


def data_uri(width: int, height: int, seed: int = 0) -> str:
    out = io.BytesIO()
    picture(width, height, seed).save(out, format="PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_bomb_png(path: Path, width: int = 10_000, height: int = 10_000) -> Path:
    """A tiny PNG whose header claims width × height pixels (a decompression bomb): it decodes to gigabytes."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\0" * (width + 1)
    idat = zlib.compress(row * 16, 9)  # a few rows: the header alone must be enough to refuse it
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))
    return path
