"""The image-to-video registry entries: the packaged ones' published defaults, the i2v archs' own defaults."""

from __future__ import annotations

import tomllib

import pytest

from videosynth.registry import IMAGE_ARCHS, RegistryError, WanEntry, load_registry, parse_registry


def _one(text: str) -> WanEntry:
    entry = parse_registry(tomllib.loads(text), "test.toml").models["m"]
    assert isinstance(entry, WanEntry)
    return entry


def test_packaged_i2v_entries_have_the_published_defaults() -> None:
    models = load_registry().models
    small, big, a14b, demo = (
        models[n] for n in ("wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p", "wan2.2-i2v-a14b", "demo-i2v")
    )
    assert isinstance(small, WanEntry) and isinstance(big, WanEntry) and isinstance(a14b, WanEntry)
    assert (small.arch, small.steps, small.guidance_scale, small.flow_shift) == ("wan2.1-i2v", 40, 5.0, 3.0)
    assert (big.flow_shift, big.native_sizes) == (5.0, ((1280, 720), (720, 1280)))
    assert (a14b.guidance_scale, a14b.guidance_scale_2, a14b.boundary_ratio, a14b.flow_shift) == (3.5, 3.5, 0.9, 5.0)
    assert isinstance(demo, WanEntry) and demo.arch == "wan2.2-ti2v" and demo.is_demo
    assert {e.arch for e in (small, a14b, demo)} <= set(IMAGE_ARCHS)


def test_an_i2v_arch_fills_its_own_defaults() -> None:
    entry = _one('[models.m]\ncheckpoint = "/x"\narch = "wan2.2-i2v-a14b"\n')
    assert (entry.steps, entry.guidance_scale, entry.guidance_scale_2, entry.fps) == (40, 3.5, 3.5, 16)
    assert _one('[models.m]\ncheckpoint = "demo:wan2.1-i2v"\n').arch == "wan2.1-i2v"


def test_only_two_expert_archs_take_a_second_guidance() -> None:
    with pytest.raises(RegistryError, match="need two experts"):
        _one('[models.m]\ncheckpoint = "/x"\narch = "wan2.1-i2v"\nguidance_scale_2 = 3.0\n')
