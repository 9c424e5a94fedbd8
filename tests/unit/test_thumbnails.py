"""media/thumbnails: the thumbnail (middle frame) and the spritesheet (a grid of evenly spaced frames), as JPEG."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from videosynth.media.encode import encode_mp4
from videosynth.media.frames import Frames
from videosynth.media.thumbnails import (
    SPRITE_TILE_WIDTH,
    images_of_mp4,
    sprite_indices,
    spritesheet,
    thumbnail,
    thumbnail_index,
)

JPEG_TOLERANCE = 12  # per channel, on the mean of a flat area (chroma subsampling and quantisation)


def _colour(i: int) -> tuple[int, int, int]:
    """A flat colour per frame index, far from its neighbours' and from black (the sheet's empty cells)."""
    return (40 + (i * 97) % 200, 40 + (i * 53) % 200, 40 + (i * 151) % 200)


def _flat(count: int, height: int = 72, width: int = 128) -> Frames:
    return np.asarray([np.full((height, width, 3), _colour(i), np.uint8) for i in range(count)])


def _decode(jpeg: bytes) -> npt.NDArray[np.uint8]:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG" and image.mode == "RGB"
    return np.asarray(image)


def _close(area: npt.NDArray[np.uint8], colour: tuple[int, int, int]) -> bool:
    mean = area.reshape(-1, 3).mean(axis=0)
    return bool(np.all(np.abs(mean - colour) <= JPEG_TOLERANCE))


def _tile(sheet: npt.NDArray[np.uint8], row: int, column: int, tile_h: int) -> npt.NDArray[np.uint8]:
    """Tile (row, column) without its 4-px border, where JPEG blocks may mix in a neighbour."""
    top, left = row * tile_h, column * SPRITE_TILE_WIDTH
    return sheet[top + 4 : top + tile_h - 4, left + 4 : left + SPRITE_TILE_WIDTH - 4]


# --------------------------------------------------------------------------------------------------- which frames


@pytest.mark.parametrize(("count", "middle"), [(1, 0), (2, 1), (9, 4), (81, 40)])
def test_the_thumbnail_is_the_middle_frame(count: int, middle: int) -> None:
    assert thumbnail_index(count) == middle


@pytest.mark.parametrize(
    ("count", "indices"),
    [
        (1, [0]),
        (3, [0, 1, 2]),
        (10, list(range(10))),
        (20, [1, 3, 5, 7, 9, 11, 13, 15, 17, 19]),
        (81, [4, 12, 20, 28, 36, 44, 52, 60, 68, 76]),
    ],
)
def test_the_spritesheet_takes_up_to_ten_evenly_spaced_frames(count: int, indices: list[int]) -> None:
    assert sprite_indices(count) == indices


def test_a_video_without_frames_has_no_images() -> None:
    with pytest.raises(ValueError, match="at least one frame"):
        sprite_indices(0)
    with pytest.raises(ValueError, match="expected frames shaped"):
        thumbnail(np.zeros((0, 8, 8, 3), np.uint8))


# --------------------------------------------------------------------------------------------------- thumbnail


def test_the_thumbnail_is_the_middle_frame_at_the_video_size() -> None:
    image = _decode(thumbnail(_flat(9)))
    assert image.shape == (72, 128, 3)
    assert _close(image, _colour(4))


def test_a_large_thumbnail_is_capped_on_its_long_side() -> None:
    image = _decode(thumbnail(_flat(3, height=1920, width=1080)))  # portrait 1080p
    assert image.shape == (1280, 720, 3)
    assert _close(image, _colour(1))


# --------------------------------------------------------------------------------------------------- spritesheet


def test_the_spritesheet_is_a_five_by_two_grid_of_evenly_spaced_frames() -> None:
    sheet = _decode(spritesheet(_flat(20, height=720, width=1280)))
    tile_h = 144  # 256 px wide at 16:9
    assert sheet.shape == (2 * tile_h, 5 * SPRITE_TILE_WIDTH, 3)
    for tile, index in enumerate(sprite_indices(20)):
        assert _close(_tile(sheet, tile // 5, tile % 5, tile_h), _colour(index)), f"tile {tile} ≠ frame {index}"


def test_a_short_video_makes_one_row_of_its_frames() -> None:
    sheet = _decode(spritesheet(_flat(3, height=48, width=64)))
    tile_h = 192  # 64×48 scaled up to 256 px wide
    assert sheet.shape == (tile_h, 3 * SPRITE_TILE_WIDTH, 3)
    assert all(_close(_tile(sheet, 0, i, tile_h), _colour(i)) for i in range(3))


def test_a_last_row_that_is_not_full_is_black_where_tiles_are_missing() -> None:
    sheet = _decode(spritesheet(_flat(7)))
    tile_h = 144
    assert sheet.shape == (2 * tile_h, 5 * SPRITE_TILE_WIDTH, 3)
    assert _close(_tile(sheet, 1, 1, tile_h), _colour(6))
    assert _close(_tile(sheet, 1, 2, tile_h), (0, 0, 0))


# --------------------------------------------------------------------------------------------------- from an mp4


def test_images_decoded_from_an_mp4_show_the_same_frames(tmp_path: Path) -> None:
    frames = _flat(20, height=144, width=256)
    info = encode_mp4(frames, tmp_path / "video.mp4", fps=4)

    made = images_of_mp4(tmp_path / "video.mp4", info.frames)

    thumb = _decode(made.thumbnail)
    assert thumb.shape == (144, 256, 3) and _close(thumb, _colour(10))
    sheet = _decode(made.spritesheet)
    assert sheet.shape == (2 * 144, 5 * SPRITE_TILE_WIDTH, 3)
    for tile, index in enumerate(sprite_indices(20)):
        assert _close(_tile(sheet, tile // 5, tile % 5, 144), _colour(index)), f"tile {tile} ≠ frame {index}"


def test_an_mp4_shorter_than_its_frame_count_is_an_error(tmp_path: Path) -> None:
    info = encode_mp4(_flat(4), tmp_path / "video.mp4", fps=4)

    with pytest.raises(ValueError, match="decoded"):
        images_of_mp4(tmp_path / "video.mp4", info.frames + 10)
