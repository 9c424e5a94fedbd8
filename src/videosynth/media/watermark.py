"""The "AI 生成" mark, bottom-right, in a CJK font shipped as a Python package (design.md §4)."""

from __future__ import annotations

import functools

import noto_cjk_sans_otc
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from videosynth.media.frames import Frames, check_frames

DEFAULT_TEXT = "AI 生成"
# Face 2 of NotoSansCJK-Regular.ttc is "Noto Sans CJK SC"; face 0 (JP) draws some hanzi with Japanese glyphs.
_SC_FACE_INDEX = 2


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Parsing the 19 MB collection costs tens of ms: once per size per process is enough.
    return ImageFont.truetype(str(noto_cjk_sans_otc.FONT_PATH), size, index=_SC_FACE_INDEX)


def _overlay(width: int, height: int, text: str) -> Image.Image:
    """A transparent RGBA canvas of the frame size with the text drawn bottom-right."""
    size = max(10, round(height / 24))  # ~30 px at 720p, ~45 px at 1080p
    stroke = max(1, size // 16)
    margin = max(2, round(height / 36))
    font = _font(size)
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    _, _, right, bottom = draw.textbbox((0, 0), text, font=font, stroke_width=stroke)
    # White with a dark outline stays readable on any background; partly transparent so it does not dominate.
    draw.text(
        (width - right - margin, height - bottom - margin),
        text,
        font=font,
        fill=(255, 255, 255, 210),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 150),
    )
    return canvas


def watermark(frames: Frames, text: str = DEFAULT_TEXT) -> Frames:
    """A copy of ``frames`` with ``text`` composited onto every frame."""
    check_frames(frames)
    _, height, width, _ = frames.shape
    rgba = np.asarray(_overlay(width, height, text))
    # Blend only the box the text touches, all frames at once: far cheaper than compositing whole frames.
    rows, cols = np.nonzero(rgba[..., 3])
    out = frames.copy()
    if rows.size == 0:
        return out
    box = np.s_[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    alpha = rgba[box][..., 3:].astype(np.float32) / 255.0
    color = rgba[box][..., :3].astype(np.float32)
    region = out[:, box[0], box[1]].astype(np.float32)
    out[:, box[0], box[1]] = np.rint(color * alpha + region * (1.0 - alpha)).astype(np.uint8)
    return out
