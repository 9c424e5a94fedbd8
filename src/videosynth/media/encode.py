"""Frames → H.264 mp4 that every browser plays, verified after writing."""

from __future__ import annotations

import os
import secrets
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from videosynth.media.frames import Frames, check_frames
from videosynth.media.probe import probe

_BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709


class EncodeError(RuntimeError):
    """The written file is not the video that was asked for."""


def encode_mp4(frames: Frames, path: str | Path, fps: int, crf: int = 20, preset: str = "veryfast") -> None:
    """Write ``frames`` to ``path`` as H.264 yuv420p with the index up front ("faststart").

    Odd sizes are padded by one edge row/column (yuv420p halves chroma resolution, so libx264 needs even
    sizes). The file appears at ``path`` only once it has been decoded back and checked, so a crash or a bad
    encode never leaves a half-written video there.
    """
    check_frames(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    if fps < 1:
        raise ValueError(f"fps must be ≥ 1, got {fps}")
    path = Path(path)
    frames = _pad_even(frames)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        _write(frames, tmp, fps, crf, preset)
        _verify(tmp, frames)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _pad_even(frames: Frames) -> Frames:
    _, height, width, _ = frames.shape
    if height % 2 == 0 and width % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _write(frames: Frames, path: Path, fps: int, crf: int, preset: str) -> None:
    _, height, width, _ = frames.shape
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        stream.options = {"crf": str(crf), "preset": preset}
        # Tag BT.709 limited range and convert with exactly that matrix: browsers decode untagged HD video as
        # BT.709, while swscale's default RGB→YUV matrix is BT.601, which would shift colours slightly.
        ctx = stream.codec_context
        ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
        ctx.color_range = ColorRange.MPEG
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))  # flush the encoder's delayed frames


def _verify(path: Path, frames: Frames) -> None:
    count, height, width, _ = frames.shape
    info = probe(path)
    problems = []
    if (info.codec, info.pix_fmt) != ("h264", "yuv420p"):
        problems.append(f"codec {info.codec}/{info.pix_fmt}, expected h264/yuv420p")
    if (info.width, info.height) != (width, height):
        problems.append(f"size {info.width}x{info.height}, expected {width}x{height}")
    if info.frames != count:
        problems.append(f"{info.frames} frames, expected {count}")
    if problems:
        raise EncodeError(f"encoded {path.name} is wrong: " + "; ".join(problems))
