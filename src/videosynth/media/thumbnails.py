"""A video's two images: a thumbnail (its middle frame) and a spritesheet (a grid of evenly spaced frames), as JPEG.

Both are made from the frames the client gets: after fitting and the watermark when the runner encoded them, or
decoded back from a backend's finished mp4 (``images_of_mp4``), so they show exactly what the video shows.

- Thumbnail: frame ``count // 2`` at the video's size, scaled down (aspect kept) when its long side is over
  ``THUMBNAIL_MAX_SIDE``.
- Spritesheet: ``min(SPRITE_TILES, count)`` frames, frame ``floor((i + 0.5) · count / n)`` for tile i (the middle
  of each of n equal stretches of the video), each scaled to ``SPRITE_TILE_WIDTH`` px wide (aspect kept), laid out
  row by row, ``SPRITE_COLUMNS`` to a row. Fewer tiles than columns make one row of just those tiles; a last row
  that is not full is black where tiles are missing. A 10-frame sheet of a 16:9 video is 1280 × 288.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from videosynth.media.frames import Frames, check_frames

THUMBNAIL_MAX_SIDE = 1280
SPRITE_TILES = 10
SPRITE_COLUMNS = 5
SPRITE_TILE_WIDTH = 256
JPEG_QUALITY = 85

Frame = npt.NDArray[np.uint8]  # (height, width, 3) RGB


@dataclass(frozen=True)
class Images:
    thumbnail: bytes  # JPEG
    spritesheet: bytes  # JPEG


def thumbnail_index(count: int) -> int:
    """Which of ``count`` frames the thumbnail shows: the middle one."""
    _check_count(count)
    return count // 2


def sprite_indices(count: int) -> list[int]:
    """Which of ``count`` frames the spritesheet shows, in order: one from the middle of each equal stretch."""
    _check_count(count)
    tiles = min(SPRITE_TILES, count)
    return [(2 * i + 1) * count // (2 * tiles) for i in range(tiles)]


def thumbnail(frames: Frames) -> bytes:
    """A JPEG of the middle frame of ``frames`` (F, H, W, 3), at most THUMBNAIL_MAX_SIDE on its long side."""
    check_frames(frames)
    return _thumbnail_of(frames[thumbnail_index(len(frames))])


def spritesheet(frames: Frames) -> bytes:
    """A JPEG grid of up to SPRITE_TILES evenly spaced frames of ``frames`` (F, H, W, 3); see the module's doc."""
    check_frames(frames)
    return _sheet_of([frames[i] for i in sprite_indices(len(frames))])


def images(frames: Frames) -> Images:
    return Images(thumbnail(frames), spritesheet(frames))


def images_of_mp4(path: Path, frame_count: int) -> Images:
    """Both images of the video at ``path``, whose first video stream decodes to ``frame_count`` frames.

    Decodes the stream once, keeping only the frames the images show (not the whole video in memory).
    ValueError when the stream ends before a frame that is needed.
    """
    middle, tiles = thumbnail_index(frame_count), sprite_indices(frame_count)
    kept = _decode_frames(path, {middle, *tiles})
    return Images(_thumbnail_of(kept[middle]), _sheet_of([kept[i] for i in tiles]))


def _decode_frames(path: Path, wanted: set[int]) -> dict[int, Frame]:
    kept: dict[int, Frame] = {}
    last = max(wanted)
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path.name}: no video stream")
        # Frames come out in presentation order; to_ndarray converts with the frame's own colour tags.
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                kept[index] = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)  # rgb24: uint8 already
            if index >= last:
                break
    if len(kept) < len(wanted):
        raise ValueError(f"{path.name}: decoded {len(kept)} of the {len(wanted)} frames wanted (up to frame {last})")
    return kept


def _thumbnail_of(frame: Frame) -> bytes:
    image = Image.fromarray(frame)
    long_side = max(image.size)
    if long_side > THUMBNAIL_MAX_SIDE:
        scale = THUMBNAIL_MAX_SIDE / long_side
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
    return _jpeg(image)


def _sheet_of(tiles: list[Frame]) -> bytes:
    height, width = tiles[0].shape[:2]
    tile_w, tile_h = SPRITE_TILE_WIDTH, max(1, round(height * SPRITE_TILE_WIDTH / width))
    columns = min(SPRITE_COLUMNS, len(tiles))
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h))  # black where a last row has no tile
    for i, tile in enumerate(tiles):
        image = Image.fromarray(tile).resize((tile_w, tile_h), Image.Resampling.LANCZOS)
        sheet.paste(image, ((i % columns) * tile_w, (i // columns) * tile_h))
    return _jpeg(sheet)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _check_count(count: int) -> None:
    if count < 1:
        raise ValueError(f"a video has at least one frame, got {count}")
