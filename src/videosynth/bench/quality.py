"""Frame quality against a reference: PSNR and SSIM of 8-bit videos (numpy only, no torch, no CLIP).

SSIM is Wang et al. (2004) as most tools compute it: luma (BT.601), an 11-tap Gaussian window of σ 1.5,
K1 = 0.01, K2 = 0.03, the mean over valid windows of every frame. 1.0 means identical structure.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

_LUMA = np.array([0.299, 0.587, 0.114])
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2
# Below these a fast (step-cached) mode is not offered: about where frame-to-frame differences become visible.
MIN_FAST_PSNR_DB = 30.0
MIN_FAST_SSIM = 0.95


def psnr_db(video: npt.NDArray[np.uint8], reference: npt.NDArray[np.uint8]) -> float:
    """PSNR in dB of two 8-bit videos of one shape; infinity when identical."""
    mse = float(((video.astype(np.float64) - reference.astype(np.float64)) ** 2).mean())
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(video: npt.NDArray[np.uint8], reference: npt.NDArray[np.uint8]) -> float:
    """Mean SSIM of two (frames, height, width, 3) 8-bit videos, on luma."""
    if video.shape != reference.shape:
        raise ValueError(f"videos differ in shape: {video.shape} vs {reference.shape}")
    x, y = _luma(video), _luma(reference)
    mu_x, mu_y = _blur(x), _blur(y)
    var_x = _blur(x * x) - mu_x**2
    var_y = _blur(y * y) - mu_y**2
    cov = _blur(x * y) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + _C1) * (2 * cov + _C2)) / ((mu_x**2 + mu_y**2 + _C1) * (var_x + var_y + _C2))
    return float(index.mean())


def passes_fast_gate(psnr: float, structural: float) -> bool:
    """Whether a fast mode's frames are close enough to the exact path's to be offered."""
    return psnr >= MIN_FAST_PSNR_DB and structural >= MIN_FAST_SSIM


def _luma(video: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = video.astype(np.float64) @ _LUMA
    return out


def _blur(image: npt.NDArray[np.float64], size: int = 11, sigma: float = 1.5) -> npt.NDArray[Any]:
    """Separable Gaussian filter over the last two axes, 'valid' windows only (no padding artefacts)."""
    taps = np.exp(-0.5 * ((np.arange(size) - size // 2) / sigma) ** 2)
    taps /= taps.sum()
    size = min(size, *image.shape[-2:])  # a tiny frame: one window as wide as the frame
    taps = taps[(len(taps) - size) // 2 :][:size]
    taps /= taps.sum()
    rows = np.lib.stride_tricks.sliding_window_view(image, size, axis=-1) @ taps
    return np.lib.stride_tricks.sliding_window_view(rows, size, axis=-2) @ taps
