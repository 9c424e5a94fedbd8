"""Bring generated frames to the exact output the client asked for (design.md §4)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from videosynth.domain.plan import GenerationPlan

# Same as backends.base.Frames, repeated: media may not import backends (independent import-linter layers).
Frames = npt.NDArray[np.uint8]  # (frames, height, width, 3) RGB


def check_frames(frames: npt.NDArray[Any]) -> None:
    """Raise ValueError unless ``frames`` is a non-empty (F, H, W, 3) array."""
    if frames.ndim != 4 or frames.shape[3] != 3 or 0 in frames.shape:
        raise ValueError(f"expected frames shaped (F, H, W, 3) with F, H, W > 0, got {frames.shape}")


def to_uint8(frames: npt.NDArray[np.floating[Any]]) -> Frames:
    """Float frames in [0, 1] → uint8, rounding to nearest (what diffusers' own ``numpy_to_pil`` does)."""
    scaled = np.clip(frames, 0.0, 1.0) * 255.0  # one float copy; the rest is in place to spare memory
    np.rint(scaled, out=scaled)
    out: Frames = scaled.astype(np.uint8)
    return out


def frames_digest(frames: Frames) -> str:
    """SHA-256 of the frames' bytes (uint8 RGB, frame by frame, row by row): a rerun makes the same frames exactly
    when the digests match, whatever the H.264 encoder does with them (libx264 is not bit-reproducible run to run)."""
    digest = hashlib.sha256()
    for frame in frames:  # one frame at a time: no second copy of a long video in memory
        digest.update(np.ascontiguousarray(frame).data)
    return digest.hexdigest()


def fit_frames(frames: Frames, plan: GenerationPlan) -> Frames:
    """Exactly ``plan.output_frames`` frames of exactly ``plan.height`` × ``plan.width``."""
    check_frames(frames)
    return _resize(_fit_count(frames, plan.output_frames), plan.width, plan.height)


def _fit_count(frames: Frames, count: int) -> Frames:
    if count < 1:
        raise ValueError(f"output frame count must be ≥ 1, got {count}")
    if len(frames) >= count:
        return frames[:count]
    # The plan asks the model for at least as many frames as the output needs, so this only happens when a
    # backend returns fewer. Holding the last frame keeps the promised duration at the promised fps;
    # stretching time instead would change the motion speed, and failing would waste a finished generation.
    tail = np.repeat(frames[-1:], count - len(frames), axis=0)
    return np.concatenate([frames, tail])


def _resize(frames: Frames, width: int, height: int) -> Frames:
    if width < 1 or height < 1:
        raise ValueError(f"output size must be positive, got {width}x{height}")
    if frames.shape[1:3] == (height, width):
        return frames
    out = np.empty((len(frames), height, width, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        # Lanczos: the sharpest of Pillow's filters for the usual case, upscaling a capped generation size.
        image = Image.fromarray(frame).resize((width, height), Image.Resampling.LANCZOS)
        out[i] = np.asarray(image)
    return out
