"""plan.py: output size and duration → what the model generates (design.md §4)."""

from __future__ import annotations

import pytest

from videosynth.domain.catalog import LEGACY_SIZES, WAN27_SIZES
from videosynth.domain.plan import GenerationPlan, frames_for, generation_size, longest_duration, plan_generation

OFFICIAL_SIZES = sorted({wh for table in (WAN27_SIZES, LEGACY_SIZES) for row in table.values() for wh in row.values()})
MULTIPLES = (16, 32)
# Pixel caps a backend may configure (Wan2.1-1.3B at 480P, Wan2.2-5B at 704P, 720P, 1080P, small test sizes).
REALISTIC_CAPS = (832 * 480, 1280 * 704, 1280 * 720, 1920 * 1080, 640 * 352, 512 * 512)

# -------------------------------------------------------------------------------------------- frames_for


@pytest.mark.parametrize(
    ("output_frames", "expected"),
    [(0, 1), (1, 1), (2, 5), (4, 5), (5, 5), (6, 9), (80, 81), (81, 81), (82, 85), (120, 121), (360, 361)],
)
def test_frames_for_examples(output_frames: int, expected: int) -> None:
    assert frames_for(output_frames) == expected


@pytest.mark.parametrize("factor", [1, 2, 4, 8])
def test_frames_for_is_the_smallest_k_factor_plus_1_not_below_n(factor: int) -> None:
    for n in range(1, 500):
        frames = frames_for(n, factor)
        assert (frames - 1) % factor == 0
        assert frames >= n
        assert frames - factor < n  # the previous candidate is too short: it is the smallest


@pytest.mark.parametrize("fps", [16, 24, 30])
def test_frames_for_every_wan_duration(fps: int) -> None:
    for duration in range(2, 16):
        frames = frames_for(duration * fps)
        assert frames % 4 == 1
        assert duration * fps <= frames < duration * fps + 4


# --------------------------------------------------------------------------------------- generation_size


@pytest.mark.parametrize("multiple", MULTIPLES)
def test_uncapped_size_is_the_nearest_grid_size(multiple: int) -> None:
    for width, height in OFFICIAL_SIZES:
        gen_w, gen_h = generation_size(width, height, multiple, None)
        assert gen_w % multiple == 0 and gen_h % multiple == 0, (width, height)
        assert abs(gen_w - width) <= multiple / 2, (width, height)
        assert abs(gen_h - height) <= multiple / 2, (width, height)


def test_uncapped_examples() -> None:
    assert generation_size(1280, 720, 16, None) == (1280, 720)
    assert generation_size(1104, 832, 32, None) == (1088, 832)
    assert generation_size(1080, 1920, 32, None) == (1088, 1920)
    assert generation_size(1920, 1080, 16, None) == (1920, 1088)  # 67.5 multiples rounds up


def test_rounding_past_an_exact_cap_steps_the_width_down() -> None:
    # 1920*1088 > 1920*1080, so the longer side gives one multiple back.
    assert generation_size(1920, 1080, 16, 1920 * 1080) == (1904, 1088)


def test_cap_at_or_above_the_size_changes_nothing_but_rounding() -> None:
    assert generation_size(1280, 720, 16, 1280 * 720) == (1280, 720)
    assert generation_size(1280, 720, 16, 10**9) == (1280, 720)


def test_capped_examples() -> None:
    assert generation_size(1280, 720, 16, 832 * 480) == (832, 480)
    assert generation_size(720, 1280, 16, 832 * 480) == (480, 832)
    assert generation_size(1920, 1080, 16, 832 * 480) == (832, 480)
    assert generation_size(1440, 1440, 16, 832 * 480) == (624, 624)


def test_overshoot_steps_the_longer_side_down() -> None:
    # Landscape: scale → 842.6 x 473.9 → snapped 848 x 480 (over the cap) → the width steps down.
    assert generation_size(1280, 720, 16, 832 * 480 - 1) == (816, 480)
    # Portrait: the height is the longer side and is the one that shrinks.
    assert generation_size(720, 1280, 16, 400_000) == (480, 832)
    assert generation_size(720, 1280, 16, 399_000) == (480, 816)


@pytest.mark.parametrize("multiple", MULTIPLES)
@pytest.mark.parametrize("cap", REALISTIC_CAPS)
def test_capped_size_keeps_the_aspect(multiple: int, cap: int) -> None:
    for width, height in OFFICIAL_SIZES:
        case = (width, height, multiple, cap)
        gen_w, gen_h = generation_size(width, height, multiple, cap)
        assert gen_w * gen_h <= cap, case
        assert abs((gen_w / gen_h) / (width / height) - 1) < 0.1, case
        # Landscape never turns portrait, nor the other way round. A square may come out one multiple off
        # square: the step-down shrinks one side only (960*960 under a 1280*704 cap at 32 → 928*960).
        assert not (width > height and gen_w < gen_h), case
        assert not (width < height and gen_w > gen_h), case
        # It uses most of the budget when it had to scale down.
        if width * height > cap:
            assert gen_w * gen_h >= 0.75 * cap, case


@pytest.mark.parametrize("multiple", [8, 16, 32, 64])
def test_grid_cap_and_floor_over_a_sweep(multiple: int) -> None:
    sizes = [*OFFICIAL_SIZES, (3000, 200), (200, 3000), (17, 1000), (1, 1), (multiple, multiple)]
    caps: list[int | None] = [None, *range(multiple * multiple, 3_000_000, 7919)]
    for cap in caps:
        for width, height in sizes:
            gen_w, gen_h = generation_size(width, height, multiple, cap)
            assert gen_w % multiple == 0 and gen_h % multiple == 0
            assert gen_w >= multiple and gen_h >= multiple
            if cap is not None:
                assert gen_w * gen_h <= cap, (width, height, multiple, cap)


def test_never_below_one_multiple_even_when_the_cap_is_smaller() -> None:
    # One multiple per side is the floor; it wins over a cap below multiple².
    assert generation_size(1280, 720, 16, 100) == (16, 16)
    assert generation_size(1280, 720, 16, 1) == (16, 16)
    assert generation_size(4, 4, 16, None) == (16, 16)
    assert generation_size(3000, 10, 32, None) == (3008, 32)


# --------------------------------------------------------------------------------------- plan_generation


def test_plan_generation_wan21() -> None:
    plan = plan_generation(1280, 720, 5, 16)
    assert plan == GenerationPlan(
        width=1280, height=720, fps=16, output_frames=80, gen_width=1280, gen_height=720, gen_frames=81
    )


def test_plan_generation_wan22_with_cap() -> None:
    plan = plan_generation(1104, 832, 15, 24, multiple=32, max_pixels=1280 * 704)
    assert (plan.width, plan.height, plan.fps) == (1104, 832, 24)
    assert plan.output_frames == 360
    assert plan.gen_frames == 361
    assert (plan.gen_width, plan.gen_height) == generation_size(1104, 832, 32, 1280 * 704)


def test_plan_generation_temporal_factor() -> None:
    assert plan_generation(960, 960, 2, 30, temporal_factor=8).gen_frames == 65
    assert plan_generation(960, 960, 2, 30, temporal_factor=1).gen_frames == 60


@pytest.mark.parametrize("fps", [16, 24, 30])
@pytest.mark.parametrize("duration", list(range(2, 16)))
def test_plan_output_frames_is_duration_times_fps(duration: int, fps: int) -> None:
    plan = plan_generation(1280, 720, duration, fps)
    assert plan.output_frames == duration * fps
    assert plan.gen_frames == frames_for(duration * fps)
    assert plan.gen_frames >= plan.output_frames


# -------------------------------------------------------------------------------------- longest_duration


@pytest.mark.parametrize(
    ("fps", "max_frames", "expected"),
    [(16, 81, 5), (16, 241, 15), (24, 121, 5), (16, 49, 3), (16, 5, 0), (16, 80, 4), (30, 1, 0)],
)
def test_longest_duration_examples(fps: int, max_frames: int, expected: int) -> None:
    assert longest_duration(fps, max_frames) == expected


@pytest.mark.parametrize("fps", [16, 24, 30])
@pytest.mark.parametrize("factor", [1, 4, 8])
def test_longest_duration_is_the_longest_whose_planned_frames_fit(fps: int, factor: int) -> None:
    for max_frames in range(1, 400):
        longest = longest_duration(fps, max_frames, factor)
        fits = [d for d in range(0, 30) if frames_for(d * fps, factor) <= max_frames]
        assert longest == max(fits), (max_frames, longest)
