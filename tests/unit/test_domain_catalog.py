"""The model catalog: names, protocol, usage style, limits and size tables (api-contract.md §1.3–1.5)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from videosynth.domain.catalog import (
    LEGACY_SIZES,
    NEGATIVE_PROMPT_LIMIT,
    PUBLIC_MODELS,
    RATIOS,
    RESOLUTIONS,
    SEED_MAX,
    WAN27_SIZES,
    ModelSpec,
    Protocol,
    ServedLimit,
    UsageStyle,
)

WAN27_TABLE = {
    ("720P", "16:9"): (1280, 720),
    ("720P", "9:16"): (720, 1280),
    ("720P", "1:1"): (960, 960),
    ("720P", "4:3"): (1104, 832),
    ("720P", "3:4"): (832, 1104),
    ("1080P", "16:9"): (1920, 1080),
    ("1080P", "9:16"): (1080, 1920),
    ("1080P", "1:1"): (1440, 1440),
    ("1080P", "4:3"): (1648, 1248),
    ("1080P", "3:4"): (1248, 1648),
}

LEGACY_TABLE = {
    ("480P", "16:9"): (832, 480),
    ("480P", "9:16"): (480, 832),
    ("480P", "1:1"): (624, 624),
    ("720P", "16:9"): (1280, 720),
    ("720P", "9:16"): (720, 1280),
    ("720P", "1:1"): (960, 960),
    ("720P", "4:3"): (1088, 832),
    ("720P", "3:4"): (832, 1088),
    ("1080P", "16:9"): (1920, 1080),
    ("1080P", "9:16"): (1080, 1920),
    ("1080P", "1:1"): (1440, 1440),
    ("1080P", "4:3"): (1632, 1248),
    ("1080P", "3:4"): (1248, 1632),
}

# name → (protocol, usage style, prompt limit, durations, tiers, default size)
MODELS = {
    "wan2.7-t2v": (Protocol.WAN27, UsageStyle.WAN27, 5000, tuple(range(2, 16)), ("720P", "1080P"), None),
    "wan2.7-t2v-2026-04-25": (
        Protocol.WAN27,
        UsageStyle.WAN27,
        5000,
        tuple(range(2, 16)),
        ("720P", "1080P"),
        None,
    ),
    "wan2.6-t2v": (
        Protocol.LEGACY,
        UsageStyle.WAN26,
        1500,
        tuple(range(2, 16)),
        ("720P", "1080P"),
        (1920, 1080),
    ),
    "wan2.6-t2v-us": (Protocol.LEGACY, UsageStyle.WAN26, 1500, (5, 10), ("720P", "1080P"), (1920, 1080)),
    "wan2.5-t2v-preview": (
        Protocol.LEGACY,
        UsageStyle.WAN25,
        1500,
        (5, 10),
        ("480P", "720P", "1080P"),
        (1920, 1080),
    ),
    "wan2.2-t2v-plus": (Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), ("480P", "1080P"), (1920, 1080)),
    "wanx2.1-t2v-turbo": (Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), ("480P", "720P"), (1280, 720)),
    "wan2.1-t2v-turbo": (Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), ("480P", "720P"), (1280, 720)),
    "wanx2.1-t2v-plus": (Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), ("720P",), (1280, 720)),
    "wan2.1-t2v-plus": (Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), ("720P",), (1280, 720)),
}


def test_constants() -> None:
    assert RATIOS == ("16:9", "9:16", "1:1", "4:3", "3:4")
    assert RESOLUTIONS == ("720P", "1080P")
    assert SEED_MAX == 2**31 - 1
    assert NEGATIVE_PROMPT_LIMIT == 500


def test_wan27_size_table_is_the_official_one() -> None:
    flat = {(tier, ratio): wh for tier, row in WAN27_SIZES.items() for ratio, wh in row.items()}
    assert flat == WAN27_TABLE


def test_legacy_size_table_is_the_official_one() -> None:
    flat = {(tier, ratio): wh for tier, row in LEGACY_SIZES.items() for ratio, wh in row.items()}
    assert flat == LEGACY_TABLE


def test_wan27_and_legacy_differ_only_in_4_3_and_3_4() -> None:
    for tier in RESOLUTIONS:
        for ratio in RATIOS:
            same = WAN27_SIZES[tier][ratio] == LEGACY_SIZES[tier][ratio]
            assert same is (ratio not in ("4:3", "3:4")), (tier, ratio)


def test_public_models_are_exactly_the_documented_names() -> None:
    # The image-to-video names have their own table (test_domain_image_inputs.py).
    assert {name for name, spec in PUBLIC_MODELS.items() if not spec.takes_images} == set(MODELS)
    for name, spec in PUBLIC_MODELS.items():
        assert spec.name == name


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_spec_fields(name: str) -> None:
    protocol, usage, prompt_limit, durations, tiers, default_size = MODELS[name]
    spec = PUBLIC_MODELS[name]
    assert spec.protocol is protocol
    assert spec.usage is usage
    assert spec.prompt_limit == prompt_limit
    assert spec.durations == durations
    assert spec.default_duration == 5
    assert spec.default_duration in spec.durations
    assert spec.tiers == tiers
    if default_size is not None:
        assert spec.default_size == default_size
        assert spec.default_size in spec.allowed_sizes()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_allowed_sizes_are_the_tiers_of_the_right_table(name: str) -> None:
    spec = PUBLIC_MODELS[name]
    table = WAN27_TABLE if spec.protocol is Protocol.WAN27 else LEGACY_TABLE
    expected = {wh: key for key, wh in table.items() if key[0] in spec.tiers}
    assert spec.allowed_sizes() == expected


def test_allowed_sizes_of_a_custom_spec() -> None:
    spec = ModelSpec("local", Protocol.LEGACY, UsageStyle.WAN25, 100, (5,), tiers=("480P",))
    assert spec.allowed_sizes() == {
        (832, 480): ("480P", "16:9"),
        (480, 832): ("480P", "9:16"),
        (624, 624): ("480P", "1:1"),
    }
    assert spec.tiers == ("480P",)
    assert spec.default_size == (1920, 1080)
    assert ModelSpec("x", Protocol.WAN27, UsageStyle.WAN27, 1, (5,)).tiers == RESOLUTIONS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sizes_by_tier_is_the_models_rows_of_its_table(name: str) -> None:
    spec = PUBLIC_MODELS[name]
    table = WAN27_SIZES if spec.protocol is Protocol.WAN27 else LEGACY_SIZES
    assert spec.sizes_by_tier() == {tier: table[tier] for tier in spec.tiers}


def test_served_durations_are_the_models_unless_a_limit_narrows_them() -> None:
    spec = PUBLIC_MODELS["wan2.7-t2v"]
    assert spec.limit is None and spec.served_durations() == spec.durations
    capped = replace(spec, limit=ServedLimit(4, "why"))
    assert capped.served_durations() == (2, 3, 4)
    assert replace(spec, limit=ServedLimit(0, "why")).served_durations() == ()
    assert capped.durations == spec.durations  # the documented rule stays as it is


def test_enums_are_strings() -> None:
    assert isinstance(Protocol.WAN27, str) and isinstance(UsageStyle.WAN27, str)
    assert [p.value for p in Protocol] == ["wan2.7", "legacy"]
    assert [s.value for s in UsageStyle] == ["wan2.7", "wan2.6", "wan2.5"]
