"""Fast mode: diffusers' first-block cache on the Wan transformer(s), opt-in per registry entry.

Each step runs the first transformer block; when its residual has moved less than the threshold (mean absolute
relative change) since the last full step, the remaining blocks are skipped and their cached residual reused.
Frames are no longer the exact path's: the benchmark measures how far they move (PSNR, SSIM) and a mode under
``bench.quality``'s gate is not offered. torch and diffusers are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DEFAULT_THRESHOLD = 0.05  # diffusers' FirstBlockCacheConfig default


def enable_first_block_cache(models: Sequence[Any], threshold: float) -> None:
    from diffusers.hooks.first_block_cache import FirstBlockCacheConfig

    for model in models:
        model.enable_cache(FirstBlockCacheConfig(threshold=threshold))


def disable_cache(models: Sequence[Any]) -> None:
    for model in models:
        model.disable_cache()


@contextmanager
def first_block_cache(models: Sequence[Any], threshold: float) -> Iterator[None]:
    """The cache on for the block only (the benchmark runs exact and fast on one pipeline)."""
    enable_first_block_cache(models, threshold)
    try:
        yield
    finally:
        disable_cache(models)
