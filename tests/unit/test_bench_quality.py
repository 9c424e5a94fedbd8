"""bench/quality.py: SSIM and PSNR of 8-bit videos on known cases (identity, noise, a brightness shift)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videosynth.bench.quality import MIN_FAST_PSNR_DB, MIN_FAST_SSIM, passes_fast_gate, psnr_db, ssim


def _video(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = np.linspace(0, 255, 3 * 32 * 40 * 3).reshape(3, 32, 40, 3)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def test_identical_videos_have_ssim_one_and_infinite_psnr() -> None:
    video = _video()
    assert ssim(video, video) == pytest.approx(1.0)
    assert psnr_db(video, video) == math.inf


def test_noise_lowers_both_and_more_noise_lowers_them_more() -> None:
    video = _video()
    rng = np.random.default_rng(1)
    light, heavy = (np.clip(video + rng.normal(0, s, video.shape), 0, 255).astype(np.uint8) for s in (3, 30))
    assert 1.0 > ssim(light, video) > ssim(heavy, video) > 0.0
    assert psnr_db(light, video) > psnr_db(heavy, video)
    assert psnr_db(light, video) == pytest.approx(10 * math.log10(255**2 / np.mean((light - video.astype(float)) ** 2)))


def test_a_constant_shift_keeps_structure_but_not_psnr() -> None:
    video = (np.full((1, 20, 20, 3), 100) + np.arange(20)[:, None, None]).astype(np.uint8)[None, 0]
    shifted = video + 10
    assert ssim(shifted, video) > 0.95  # luminance term only: structure and contrast intact
    assert psnr_db(shifted, video) == pytest.approx(10 * math.log10(255**2 / 100))


def test_shapes_must_match_and_small_frames_use_one_window() -> None:
    with pytest.raises(ValueError, match="shape"):
        ssim(np.zeros((1, 8, 8, 3), np.uint8), np.zeros((1, 8, 9, 3), np.uint8))
    tiny = _video()[:, :6, :6]
    assert ssim(tiny, tiny) == pytest.approx(1.0)


def test_the_fast_gate_needs_both_figures() -> None:
    assert passes_fast_gate(MIN_FAST_PSNR_DB, MIN_FAST_SSIM)
    assert not passes_fast_gate(MIN_FAST_PSNR_DB - 0.1, 1.0)
    assert not passes_fast_gate(math.inf, MIN_FAST_SSIM - 0.01)
