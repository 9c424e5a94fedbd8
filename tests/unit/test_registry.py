"""registry.py: the packaged file, validation messages, name resolution and the legacy VIDEOSYNTH_MODEL* settings."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from videosynth.backends.flops import transformer_flops
from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.domain.errors import ModelNotFound
from videosynth.registry import (
    RegistryError,
    WanEntry,
    apply_settings,
    describe,
    detect_arch,
    load_registry,
    parse_registry,
    wan_entry,
)
from videosynth.settings import Settings

# The names the issue lists; every one must reach the demo model out of the box.
ISSUE_NAMES = (
    "wan2.7-t2v",
    "wan2.7-t2v-2026-04-25",
    "wan2.6-t2v",
    "wan2.5-t2v-preview",
    "wan2.2-t2v-plus",
    "wanx2.1-t2v-turbo",
    "wanx2.1-t2v-plus",
)


def _parse(text: str) -> object:
    import tomllib

    return parse_registry(tomllib.loads(text), "test.toml")


def _entry(name: str = "m", **fields: object) -> WanEntry:
    base: dict[str, object] = {"checkpoint": "/models/x", "arch": "wan2.1", "fps": 16, "steps": 50}
    base["guidance_scale"] = 5.0
    return WanEntry(name=name, **(base | fields))  # type: ignore[arg-type]


# ---- the packaged registry --------------------------------------------------------------------------------------


def test_packaged_registry_sends_every_public_name_to_the_demo_model() -> None:
    registry = load_registry()
    assert set(ISSUE_NAMES) <= set(registry.aliases)
    for name in PUBLIC_MODELS:
        assert registry.entry_for(name).name == "demo"
    demo = registry.models["demo"]
    assert (demo.checkpoint, demo.arch, demo.steps, demo.pixel_cap, demo.fps) == ("demo:wan2.1", "wan2.1", 4, 4096, 16)
    assert demo.is_demo
    assert registry.public_names_for("demo") == tuple(PUBLIC_MODELS)


def test_packaged_registry_has_the_published_defaults() -> None:
    models = load_registry().models
    small, big = models["wan2.1-t2v-1.3b"], models["wan2.1-t2v-14b"]
    ti2v, a14b = models["wan2.2-ti2v-5b"], models["wan2.2-t2v-a14b"]
    assert (small.steps, small.guidance_scale, small.flow_shift, small.fps) == (50, 5.0, 3.0, 16)
    assert small.native_sizes == ((832, 480), (480, 832))
    assert small.pixel_cap == 832 * 480
    assert [big.flow_shift_for(w, h) for w, h in ((832, 480), (1280, 720), (960, 960))] == [3.0, 5.0, 5.0]
    assert (ti2v.arch, ti2v.fps, ti2v.spatial_multiple, ti2v.flow_shift, ti2v.steps) == ("wan2.2-ti2v", 24, 32, 5.0, 50)
    assert ti2v.native_sizes == ((1280, 704), (704, 1280))
    assert (a14b.steps, a14b.guidance_scale, a14b.guidance_scale_2, a14b.boundary_ratio) == (40, 4.0, 3.0, 0.875)
    assert (a14b.flow_shift, a14b.fps, a14b.memory) == (12.0, 16, "model_offload")


def test_describe_lists_sizes_fps_defaults_and_public_names() -> None:
    text = describe(load_registry())
    assert "wan2.7-t2v" in text
    assert "native 1280*704, 704*1280; multiples of 32" in text
    assert "24 fps · 50 steps · guidance 5" in text
    assert "guidance 4 high / 3 low" in text
    assert "832*480=3" in text


# ---- resolution -------------------------------------------------------------------------------------------------

_TWO_MODELS = """
default = "small"
[aliases]
"wan2.7-t2v" = "big"
[models.small]
checkpoint = "/m/small"
[models.big]
checkpoint = "/m/big"
arch = "wan2.2-ti2v"
"""


def test_aliases_default_and_entry_names_resolve() -> None:
    registry = _parse(_TWO_MODELS)
    assert registry.entry_for("wan2.7-t2v").name == "big"  # type: ignore[attr-defined]
    assert registry.entry_for("wan2.6-t2v").name == "small"  # type: ignore[attr-defined]  # via default
    assert registry.entry_for("big").name == "big"  # type: ignore[attr-defined]  # local name
    assert registry.served_entries() == ("small", "big")  # type: ignore[attr-defined]
    assert "wan2.7-t2v" not in registry.public_names_for("small")  # type: ignore[attr-defined]
    with pytest.raises(ModelNotFound):
        registry.entry_for("sora-2")  # type: ignore[attr-defined]


def test_public_names_without_alias_or_default_are_unknown() -> None:
    registry = _parse('[aliases]\n"wan2.7-t2v" = "m"\n[models.m]\ncheckpoint = "/m"\n')
    assert registry.entry_for("wan2.7-t2v").name == "m"  # type: ignore[attr-defined]
    assert registry.default_entry().name == "m"  # type: ignore[attr-defined]
    with pytest.raises(ModelNotFound, match="Model not exist"):
        registry.entry_for("wan2.6-t2v")  # type: ignore[attr-defined]


def test_arch_defaults_fill_missing_keys() -> None:
    registry = _parse(_TWO_MODELS)
    big = registry.models["big"]  # type: ignore[attr-defined]
    assert (big.fps, big.steps, big.spatial_multiple, big.temporal_factor, big.flow_shift) == (24, 50, 32, 4, None)
    a14b = _parse('[models.x]\ncheckpoint = "demo:wan2.2-a14b"\n').models["x"]  # type: ignore[attr-defined]
    assert (a14b.arch, a14b.steps, a14b.guidance_scale, a14b.guidance_scale_2) == ("wan2.2-a14b", 40, 4.0, 3.0)


def test_flow_shift_for_picks_the_nearest_native_size() -> None:
    entry = _entry(native_sizes=((1280, 720), (832, 480)), flow_shift=5.0, flow_shift_by_size={(832, 480): 3.0})
    assert entry.flow_shift_for(832, 480) == 3.0
    assert entry.flow_shift_for(640, 368) == 3.0
    assert entry.flow_shift_for(1104, 832) == 5.0
    assert _entry(flow_shift=7.0).flow_shift_for(64, 64) == 7.0
    assert _entry().flow_shift_for(64, 64) is None


# ---- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('colour = "red"', r"top level has unknown key\(s\) colour"),
        ("[models.m]\nsteps = 4", r"\[models.'m'\] needs a checkpoint"),
        ('[models.m]\ncheckpoint = "/m"\nstpes = 4', r"\[models.'m'\] has unknown key\(s\) stpes \(known: .*steps"),
        ('[models.m]\ncheckpoint = "/m"\narch = "wan3"', r"\[models.'m'\] arch must be one of wan2.1, "),
        ('[models.m]\ncheckpoint = "demo:wan2.1"\narch = "wan2.2-ti2v"', "contradicts arch"),
        ('[models.m]\ncheckpoint = "/m"\nsteps = "many"', r"\[models.'m'\] steps must be an integer, got 'many'"),
        ('[models.m]\ncheckpoint = "/m"\nsteps = 0', "steps must be ≥ 1"),
        ('[models.m]\ncheckpoint = "/m"\nvae_tiling = 1', "vae_tiling must be true or false"),
        ('[models.m]\ncheckpoint = "/m"\nguidance_scale_2 = 3.0', "need two experts"),
        ('[models.m]\ncheckpoint = "demo:wan2.2-a14b"\nboundary_ratio = 1.5', r"boundary_ratio must be in \(0, 1\]"),
        ('[models.m]\ncheckpoint = "/m"\nmemory = "cloud"', "memory must be one of gpu, model_offload"),
        ('[models.m]\ncheckpoint = "/m"\ndtype = "int8"', "dtype must be one of auto"),
        ('[models.m]\ncheckpoint = "/m"\nflow_shift = 0', "flow shifts must be > 0"),
        ('[models.m]\ncheckpoint = "/m"\nnative_sizes = ["832x480"]', 'sizes are written "W\\*H"'),
        (
            '[models.m]\ncheckpoint = "/m"\narch = "wan2.2-ti2v"\nnative_sizes = ["1280*720"]',
            "native size 1280\\*720 is not a multiple of spatial_multiple 32",
        ),
        ('[models.m]\ncheckpoint = "/m"\nspatial_multiple = 24', "spatial_multiple must be a multiple of 16"),
        ('[models.m]\ncheckpoint = "/m"\ntemporal_factor = 6', "temporal_factor must be a multiple of 4"),
        (
            '[models.m]\ncheckpoint = "/m"\nflow_shift_by_size = { "832*480" = 3.0 }',
            "flow_shift_by_size lists sizes that are not native_sizes: 832\\*480",
        ),
        ('[models.m]\ncheckpoint = "/m"\nmax_pixels = 100', "max_pixels must be ≥ 256"),
        ('[models.m]\ncheckpoint = "/m"\nmax_frames = 80', r"max_frames must be k·4\+1"),
        ('[aliases]\n"wan9-t2v" = "m"\n[models.m]\ncheckpoint = "/m"', r"\[aliases\] 'wan9-t2v' is not a public model"),
        ('[aliases]\n"wan2.7-t2v" = "x"\n[models.m]\ncheckpoint = "/m"', r"= 'x' is not a model in \[models\]"),
        ('default = "x"\n[models.m]\ncheckpoint = "/m"', r"default = 'x' is not a model in \[models\] \(known: m\)"),
        ("models = 3", r"\[models\] must be a table"),
        ('[models.m]\nbackend = "teleport"', r"\[models.'m'\] backend must be one of wan, relay, got 'teleport'"),
        ("[models.m]\nbackend = 1", r"\[models.'m'\] backend must be a string, got 1"),
        # A relay's keys are not a wan entry's: each backend's keys belong to it alone.
        ('[models.m]\ncheckpoint = "/m"\nbase_url = "http://x"', r"\[models.'m'\] has unknown key\(s\) base_url"),
    ],
)
def test_bad_registries_name_file_and_key(text: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message) as info:
        _parse(text)
    assert str(info.value).startswith("test.toml: ")


def test_an_entry_is_served_by_wan_unless_it_names_another_backend() -> None:
    registry = _parse('[models.a]\ncheckpoint = "/a"\n[models.b]\nbackend = "wan"\ncheckpoint = "/b"\n')
    entries = registry.models  # type: ignore[attr-defined]
    assert [(e.backend, type(e)) for e in entries.values()] == [("wan", WanEntry), ("wan", WanEntry)]


@dataclass(frozen=True)
class _RelayLike:
    """An entry of another backend, as the next one will have: no checkpoint, no arch."""

    name: str
    description: str = "upstream"
    backend: str = "relay"


def test_entries_of_other_backends_are_listed_and_left_alone_by_the_legacy_settings() -> None:
    packaged = load_registry()
    models = {**packaged.models, "up": _RelayLike("up")}
    registry = replace(packaged, models=models, aliases={**packaged.aliases, "wan2.6-t2v": "up"})
    text = describe(registry)
    assert "up  (backend relay, upstream)\n  serves      wan2.6-t2v" in text
    changed = apply_settings(registry, _settings(model="/models/x", model_steps=7))
    assert changed.models["up"] is models["up"]
    assert changed.entry_for("wan2.7-t2v").steps == 7  # type: ignore[attr-defined]
    with pytest.raises(RegistryError, match="'up' is served by the 'relay' backend, not by wan"):
        wan_entry(changed.entry_for("wan2.6-t2v"))


def test_load_registry_reports_unreadable_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match=r"missing\.toml: cannot read the model registry"):
        load_registry(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[models\n")
    with pytest.raises(RegistryError, match=r"bad\.toml: not valid TOML"):
        load_registry(bad)
    good = tmp_path / "good.toml"
    good.write_text('default = "m"\n[models.m]\ncheckpoint = "/m"\nguidance_scale = 6\n')
    assert load_registry(good).models["m"].guidance_scale == 6.0  # an integer is accepted where a number is due


# ---- backward compatibility with VIDEOSYNTH_MODEL* --------------------------------------------------------------


def _settings(**fields: object) -> Settings:
    return Settings(**fields)  # type: ignore[arg-type]


def test_defaults_leave_the_registry_alone() -> None:
    registry = load_registry()
    assert apply_settings(registry, _settings()) is registry


def test_model_setting_replaces_the_demo_with_wan21_defaults() -> None:
    registry = apply_settings(load_registry(), _settings(model="/models/Wan2.1-T2V-1.3B-Diffusers"))
    entry = registry.entry_for("wan2.7-t2v")
    assert (entry.checkpoint, entry.arch, entry.steps, entry.pixel_cap, entry.fps) == (
        "/models/Wan2.1-T2V-1.3B-Diffusers",
        "wan2.1",
        50,
        None,
        16,
    )
    assert not entry.is_demo
    assert registry.models["wan2.2-ti2v-5b"].checkpoint == "Wan-AI/Wan2.2-TI2V-5B-Diffusers"  # unreached: unchanged


def test_model_setting_detects_the_architecture_of_a_local_folder(tmp_path: Path) -> None:
    (tmp_path / "model_index.json").write_text(json.dumps({"expand_timesteps": True, "transformer_2": [None, None]}))
    entry = apply_settings(load_registry(), _settings(model=str(tmp_path))).entry_for("wan2.6-t2v")
    assert (entry.arch, entry.fps, entry.spatial_multiple) == ("wan2.2-ti2v", 24, 32)
    assert detect_arch(tmp_path) == "wan2.2-ti2v"
    (tmp_path / "model_index.json").write_text(json.dumps({"transformer_2": ["diffusers", "WanTransformer3DModel"]}))
    assert detect_arch(tmp_path) == "wan2.2-a14b"
    assert detect_arch("Wan-AI/Wan2.1-T2V-14B-Diffusers") is None  # a hub id: not looked up


def test_model_setting_keeps_a_real_entrys_defaults(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text('default = "big"\n[models.big]\ncheckpoint = "/m/big"\nsteps = 30\nflow_shift = 5.0\n')
    entry = apply_settings(load_registry(path), _settings(model="/elsewhere")).entry_for("wan2.7-t2v")
    assert (entry.checkpoint, entry.steps, entry.flow_shift) == ("/elsewhere", 30, 5.0)


def test_model_fields_override_only_when_not_their_default() -> None:
    registry = apply_settings(load_registry(), _settings(model_steps=2, model_fps=16, model_max_pixels=1024))
    demo = registry.entry_for("wan2.7-t2v")
    assert (demo.steps, demo.fps, demo.pixel_cap) == (2, 16, 1024)
    registry = apply_settings(load_registry(), _settings(model_fps=24, model_guidance_scale=6.0))
    demo = registry.entry_for("wan2.7-t2v")
    assert (demo.fps, demo.guidance_scale, demo.steps) == (24, 6.0, 4)


# ---- layering and FLOPs -----------------------------------------------------------------------------------------


def test_registry_and_bench_modules_import_no_torch() -> None:
    code = (
        "import sys, videosynth.registry, videosynth.bench.generation, videosynth.backends.check, "
        "videosynth.backends.wan_pipeline, videosynth.backends.flops\n"
        "heavy = sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_transformer_flops_by_hand() -> None:
    # d = 32, f = 64, 2 layers, 48 video tokens (3×4×4 after 1×2×2 patches), 20 text tokens.
    config = {
        "num_attention_heads": 2,
        "attention_head_dim": 16,
        "ffn_dim": 64,
        "num_layers": 2,
        "text_dim": 32,
        "freq_dim": 256,
        "in_channels": 16,
        "out_channels": 16,
        "patch_size": (1, 2, 2),
    }
    flops = transformer_flops(config, 3, 8, 8, 20)
    assert flops.self_attention == 2 * 4 * 48 * 48 * 32
    assert flops.cross_attention == 2 * 4 * 48 * 20 * 32
    assert flops.mlp == 2 * 4 * 48 * 32 * 64
    assert flops.projections == 2 * 2 * (6 * 48 + 2 * 20) * 32 * 32
    assert flops.total == 3_471_360  # torch.utils.flop_counter's count for this shape (math attention)
    per_token = transformer_flops(config, 3, 8, 8, 20, per_token_timesteps=True)
    assert per_token.total - flops.total == 47 * 2 * (256 * 32 + 32 * 32 + 32 * 192)
