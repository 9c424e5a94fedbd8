"""Fast mode: diffusers' step caches on the Wan transformer(s), opt-in per registry entry.

First-block cache: each step runs the first transformer block; when its residual has moved less than the threshold
(mean absolute relative change) since the last full step, the remaining blocks are skipped and their cached
residual reused. MagCache: the magnitude of each step's residual relative to the last one follows a curve that is
a property of the checkpoint (``mag_ratios``, measured once by :func:`calibrate_mag_cache`); steps whose
accumulated drift from 1 stays under the threshold reuse the last residual, at most ``max_skip_steps`` in a row,
never in the first ``retention_ratio`` of the steps. Frames are no longer the exact path's: the benchmark measures
how far they move (PSNR, SSIM) and a mode under ``bench.quality``'s gate is not offered. torch and diffusers are
imported inside functions only.
"""

from __future__ import annotations

import ast
import contextlib
import io
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

DEFAULT_THRESHOLD = 0.05  # diffusers' FirstBlockCacheConfig default
_MAG_LOGGER = "diffusers.hooks.mag_cache"
_MAG_RESULTS = "MagCache Calibration Results: "


def enable_first_block_cache(models: Sequence[Any], threshold: float) -> None:
    from diffusers.hooks.first_block_cache import FirstBlockCacheConfig

    for model in models:
        model.enable_cache(FirstBlockCacheConfig(threshold=threshold))


def enable_mag_cache(models: Sequence[Any], ratios: Sequence[float], threshold: float, steps: int) -> None:
    """MagCache with the checkpoint's ``ratios`` (interpolated by diffusers to ``steps`` when their count differs)."""
    from diffusers.hooks.mag_cache import MagCacheConfig

    for model in models:
        model.enable_cache(MagCacheConfig(threshold=threshold, num_inference_steps=steps, mag_ratios=list(ratios)))


def disable_cache(models: Sequence[Any]) -> None:
    for model in models:
        model.disable_cache()


def reset_caches(models: Sequence[Any]) -> None:
    """Forget a cache's state before a video: a run left mid-way (aborted at a step) never reached the pipeline's
    own reset, and its residuals and step count must not leak into the next task's."""
    for model in models:
        if getattr(model, "is_cache_enabled", False):
            model._reset_stateful_cache()


@contextmanager
def first_block_cache(models: Sequence[Any], threshold: float) -> Iterator[None]:
    """The cache on for the block only (the benchmark runs exact and fast on one pipeline)."""
    enable_first_block_cache(models, threshold)
    try:
        yield
    finally:
        disable_cache(models)


@contextmanager
def mag_cache(models: Sequence[Any], ratios: Sequence[float], threshold: float, steps: int) -> Iterator[None]:
    enable_mag_cache(models, ratios, threshold, steps)
    try:
        yield
    finally:
        disable_cache(models)


def calibrate_mag_cache(model: Any, steps: int, run: Callable[[], Any]) -> list[float]:
    """The magnitude ratios of ``model`` (one transformer) over one ``steps``-step ``run``, nothing skipped.

    diffusers' calibration mode measures them and hands them out only as a log record (and a print) at the last
    step: both are caught here, the print kept off this process's stdout.
    """
    from diffusers.hooks.mag_cache import MagCacheConfig

    found: list[list[float]] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if message.startswith(_MAG_RESULTS):
                found.append([float(x) for x in ast.literal_eval(message.removeprefix(_MAG_RESULTS))])

    source = logging.getLogger(_MAG_LOGGER)
    handler, level, propagate = Catch(), source.level, source.propagate
    source.addHandler(handler)
    source.setLevel(logging.INFO)
    source.propagate = False  # caught here, not printed by diffusers' own handler
    model.enable_cache(MagCacheConfig(calibrate=True, num_inference_steps=steps))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            run()
    finally:
        model.disable_cache()
        source.removeHandler(handler)
        source.setLevel(level)
        source.propagate = propagate
    if not found:
        raise RuntimeError(f"MagCache calibration reported no ratios (did the run make all {steps} steps?)")
    return found[-1]
