"""Map an output (size, duration) to what the model actually generates (design.md §4).

The model generates at a size its latent grid allows, optionally scaled down to a per-model pixel cap, and a 4k+1
frame count; the frames are then resized and trimmed to exactly the requested size and duration × fps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationPlan:
    width: int
    height: int
    fps: int
    output_frames: int
    gen_width: int
    gen_height: int
    gen_frames: int


def frames_for(output_frames: int, temporal_factor: int = 4) -> int:
    """The smallest k·temporal_factor + 1 that is ≥ output_frames (Wan's VAE compresses time by 4)."""
    k = max(0, math.ceil((output_frames - 1) / temporal_factor))
    return k * temporal_factor + 1


def longest_duration(fps: int, max_frames: int, temporal_factor: int = 4) -> int:
    """The longest whole-second duration whose generated frames (as planned below) fit in ``max_frames``."""
    seconds = max_frames // fps
    # Frames round up to k·temporal_factor + 1, so a max_frames of another form may not hold max_frames // fps.
    while seconds > 0 and frames_for(seconds * fps, temporal_factor) > max_frames:
        seconds -= 1
    return seconds


def _snap(value: float, multiple: int) -> int:
    return max(multiple, round(value / multiple) * multiple)


def generation_size(width: int, height: int, multiple: int, max_pixels: int | None) -> tuple[int, int]:
    """Nearest grid-aligned size with the output's aspect, scaled down to ``max_pixels`` when that is set."""
    scale = 1.0
    if max_pixels is not None and width * height > max_pixels:
        scale = math.sqrt(max_pixels / (width * height))
    gen_w, gen_h = _snap(width * scale, multiple), _snap(height * scale, multiple)
    # Rounding may overshoot the cap by a little: step the longer side down until it fits.
    while max_pixels is not None and gen_w * gen_h > max_pixels and max(gen_w, gen_h) > multiple:
        if gen_w >= gen_h:
            gen_w -= multiple
        else:
            gen_h -= multiple
    return gen_w, gen_h


def plan_generation(
    width: int,
    height: int,
    duration: int,
    fps: int,
    multiple: int = 16,
    max_pixels: int | None = None,
    temporal_factor: int = 4,
) -> GenerationPlan:
    output_frames = duration * fps
    gen_w, gen_h = generation_size(width, height, multiple, max_pixels)
    return GenerationPlan(
        width=width,
        height=height,
        fps=fps,
        output_frames=output_frames,
        gen_width=gen_w,
        gen_height=gen_h,
        gen_frames=frames_for(output_frames, temporal_factor),
    )
