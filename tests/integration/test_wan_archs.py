"""Every Wan architecture through the real from_pretrained path on tiny checkpoints built here, plus the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import build_tiny_wan
from videosynth.backends.wan import UnsupportedJob, WanGenerator
from videosynth.backends.wan_pipeline import place
from videosynth.cli import app
from videosynth.domain.errors import InvalidParameter
from videosynth.registry import WanEntry
from videosynth.settings import Settings

ARCHS = ("wan2.1", "wan2.2-ti2v", "wan2.2-a14b")
JOB = GenerationJob(prompt="一只猫在雪地里奔跑", negative_prompt="blurry", width=64, height=64, num_frames=9, seed=3)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {arch: build_tiny_wan(root / arch, arch=arch) for arch in ARCHS}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # One pinned thread: float results differ between thread counts, and 2 busy cores are slower than 1.
    return Settings(data_dir=tmp_path, device="cpu", torch_threads=1)  # type: ignore[call-arg]


def _entry(arch: str, checkpoint: Path, **fields: Any) -> WanEntry:
    multiple = 32 if arch == "wan2.2-ti2v" else 16
    base: dict[str, Any] = {"fps": 16, "steps": 2, "guidance_scale": 5.0, "spatial_multiple": multiple}
    if arch == "wan2.2-a14b":
        base["guidance_scale_2"] = 3.0
    return WanEntry(name=f"tiny-{arch}", checkpoint=str(checkpoint), arch=arch, **(base | fields))  # type: ignore[arg-type]


def _generator(arch: str, checkpoints: dict[str, Path], settings: Settings, **fields: Any) -> WanGenerator:
    return WanGenerator.from_entry(_entry(arch, checkpoints[arch], **fields), settings)


def _bump(counts: dict[str, int], name: str) -> None:
    counts[name] += 1


@pytest.fixture
def forward_counts() -> Iterator[tuple[dict[str, int], Any]]:
    counts: dict[str, int] = {}
    handles: list[Any] = []

    def hook(pipe: Any) -> None:
        for name in ("transformer", "transformer_2"):
            counts[name] = 0
            model = getattr(pipe, name)
            if model is not None:
                handles.append(model.register_forward_pre_hook(lambda *_a, n=name: _bump(counts, n)))

    yield counts, hook
    for handle in handles:
        handle.remove()


@pytest.mark.parametrize("arch", ARCHS)
def test_each_arch_generates_the_job_size_and_reports_steps(
    arch: str, checkpoints: dict[str, Path], settings: Settings
) -> None:
    gen = _generator(arch, checkpoints, settings)
    steps: list[tuple[int, int]] = []
    frames = gen.generate(JOB, lambda step, total: steps.append((step, total)))
    assert frames.shape == (9, 64, 64, 3)
    assert frames.dtype == np.uint8
    assert frames.std() > 0
    assert steps == [(1, 2), (2, 2)]


def test_a14b_switches_experts_at_the_boundary_with_their_own_guidance(
    checkpoints: dict[str, Path], settings: Settings, forward_counts: tuple[dict[str, int], Any]
) -> None:
    counts, hook = forward_counts
    gen = _generator("wan2.2-a14b", checkpoints, settings)
    hook(gen.pipe)
    gen.generate(JOB, lambda *_: None)
    # Timesteps 999 and 750 at the tiny checkpoint's shift 3.0: one step each side of 0.875 × 1000, and each
    # step runs the conditional and the unconditional forward.
    assert counts == {"transformer": 2, "transformer_2": 2}
    assert gen.pipeline_kwargs(JOB)["guidance_scale_2"] == 3.0
    assert gen.pipe._guidance_scale_2 == 3.0  # what the low-noise stage used


def test_a14b_boundary_ratio_comes_from_the_entry(
    checkpoints: dict[str, Path], settings: Settings, forward_counts: tuple[dict[str, int], Any]
) -> None:
    counts, hook = forward_counts
    gen = _generator("wan2.2-a14b", checkpoints, settings, boundary_ratio=0.5)
    hook(gen.pipe)
    gen.generate(JOB, lambda *_: None)
    assert gen.pipe.config.boundary_ratio == 0.5
    assert counts == {"transformer": 4, "transformer_2": 0}  # both timesteps ≥ 500: the high-noise expert only


def test_ti2v_generates_on_a_32_pixel_grid_at_24_fps(checkpoints: dict[str, Path], settings: Settings) -> None:
    gen = _generator("wan2.2-ti2v", checkpoints, settings, fps=24)
    caps = gen.capabilities
    assert (caps.fps, caps.spatial_multiple, caps.temporal_factor) == (24, 32, 4)
    assert gen.pipe.vae_scale_factor_spatial == 16
    assert gen.pipe.transformer.config.in_channels == 48
    with pytest.raises(UnsupportedJob, match="multiples of 32, got 48x48") as info:
        gen.generate(replace(JOB, width=48, height=48), lambda *_: None)
    assert isinstance(info.value, InvalidParameter)  # the worker fails the task with this code and message
    assert info.value.code == "InvalidParameter"


def test_an_entry_that_misnames_its_architecture_is_refused(checkpoints: dict[str, Path], settings: Settings) -> None:
    with pytest.raises(ValueError, match=r"says arch 'wan2\.2-ti2v' but its checkpoint .* is 'wan2\.1'"):
        WanGenerator.from_entry(_entry("wan2.2-ti2v", checkpoints["wan2.1"]), settings)
    with pytest.raises(ValueError, match=r"says arch 'wan2\.1' but its checkpoint .* is 'wan2\.2-a14b'"):
        WanGenerator.from_entry(_entry("wan2.1", checkpoints["wan2.2-a14b"]), settings)


def test_limits_of_the_entry_are_enforced_before_generation(checkpoints: dict[str, Path], settings: Settings) -> None:
    gen = _generator("wan2.1", checkpoints, settings, max_pixels=64 * 48, max_frames=5)
    with pytest.raises(UnsupportedJob, match=r"at most 3072, got 64x64; num_frames must be at most 5, got 9"):
        gen.generate(JOB, lambda *_: None)
    assert gen.generate(replace(JOB, height=48, num_frames=5), lambda *_: None).shape == (5, 48, 64, 3)


def test_flow_shift_follows_the_nearest_native_size(checkpoints: dict[str, Path], settings: Settings) -> None:
    sizes = {(64, 48): 2.0, (128, 96): 7.0}
    gen = _generator("wan2.1", checkpoints, settings, native_sizes=tuple(sizes), flow_shift_by_size=sizes)
    assert gen.capabilities.max_pixels == 128 * 96  # the largest native size caps generation
    gen.generate(replace(JOB, height=48), lambda *_: None)
    assert gen.pipe.scheduler.config.flow_shift == 2.0
    assert gen.scheduler_for(112, 96).config.flow_shift == 7.0
    assert gen.scheduler_for(64, 48) is gen.pipe.scheduler  # built once per shift


def test_vae_tiling_and_offload_modes_on_a_cpu(checkpoints: dict[str, Path], settings: Settings) -> None:
    gen = _generator("wan2.1", checkpoints, settings, vae_tiling=True, memory="sequential_offload")
    assert gen.pipe.vae.use_tiling
    assert str(gen.pipe._execution_device) == "cpu"  # offload needs an accelerator: everything stays put
    assert gen.generate(replace(JOB, num_frames=5), lambda *_: None).shape == (5, 64, 64, 3)


class _FakePipe:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.vae = self

    def to(self, device: str) -> None:
        self.calls.append(("to", device))

    def enable_model_cpu_offload(self, device: str) -> None:
        self.calls.append(("model_offload", device))

    def enable_sequential_cpu_offload(self, device: str) -> None:
        self.calls.append(("sequential_offload", device))

    def enable_tiling(self) -> None:
        self.calls.append(("tiling", ""))


@pytest.mark.parametrize(
    ("memory", "tiling", "device", "expected"),
    [
        ("gpu", False, "cuda:1", [("to", "cuda:1")]),
        ("model_offload", True, "cuda:1", [("tiling", ""), ("model_offload", "cuda:1")]),
        ("sequential_offload", False, "cuda", [("sequential_offload", "cuda")]),
        ("model_offload", False, "cpu", [("to", "cpu")]),
    ],
)
def test_memory_modes_make_the_diffusers_calls(memory: str, tiling: bool, device: str, expected: list[Any]) -> None:
    pipe = _FakePipe()
    entry = WanEntry("m", "/m", "wan2.1", 16, 50, 5.0, memory=memory, vae_tiling=tiling)  # type: ignore[arg-type]
    place(pipe, device, entry)
    assert pipe.calls == expected


def test_registry_file_can_serve_a_demo_of_another_arch(tmp_path: Path, settings: Settings) -> None:
    registry = tmp_path / "registry.toml"
    registry.write_text(
        'default = "five"\n[models.five]\ncheckpoint = "demo:wan2.2-ti2v"\nsteps = 2\nmax_pixels = 4096\n'
    )
    gen = WanGenerator.from_settings(settings.model_copy(update={"model_registry": registry}), "wan2.7-t2v")
    assert (settings.data_dir / "models" / "tiny-wan2.2-ti2v" / "model_index.json").is_file()
    assert (gen.entry.name, gen.capabilities.fps, gen.capabilities.spatial_multiple) == ("five", 24, 32)
    assert gen.capabilities.max_pixels == 4096
    assert gen.generate(replace(JOB, num_frames=5), lambda *_: None).shape == (5, 64, 64, 3)


def test_model_setting_pointing_at_a_ti2v_folder_keeps_working(
    checkpoints: dict[str, Path], settings: Settings
) -> None:
    gen = WanGenerator.from_settings(settings.model_copy(update={"model": str(checkpoints["wan2.2-ti2v"])}))
    caps = gen.capabilities
    assert (caps.fps, caps.spatial_multiple, caps.temporal_factor, caps.max_pixels) == (24, 32, 4, None)
    assert gen.entry.steps == 50


# ---- CLI --------------------------------------------------------------------------------------------------------


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {"DATA_DIR": str(tmp_path), "DEVICE": "cpu", "TORCH_THREADS": "1"}.items():
        monkeypatch.setenv(f"VIDEOSYNTH_{name}", value)
    return tmp_path


def test_cli_models_list_shows_the_registry(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "demo  (wan2.1" in result.output
    assert "wan2.2-ti2v-5b" in result.output
    assert "24 fps · 50 steps" in result.output


def test_cli_models_build_tiny_writes_each_arch(cli_env: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["models", "build-tiny", "--arch", "wan2.2-a14b", str(cli_env / "a14b")])
    assert result.exit_code == 0, result.output
    assert (cli_env / "a14b" / "transformer_2" / "config.json").is_file()
    bad = runner.invoke(app, ["models", "build-tiny", "--arch", "wan3", str(cli_env / "x")])
    assert bad.exit_code == 2
    assert "arch must be one of" in bad.output


def test_cli_models_check_generates_and_reports(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["models", "check", "wan2.7-t2v"])
    assert result.exit_code == 0, result.output
    assert "model demo (wan2.1) from demo:wan2.1 on cpu" in result.output
    assert "17 frames, 2 steps in" in result.output  # one second at 16 fps, as 4k+1 frames
    assert "peak memory" in result.output
    missing = CliRunner().invoke(app, ["models", "check", "sora-2"])
    assert missing.exit_code == 1
    assert "no model 'sora-2'" in missing.output


def test_cli_models_calibrate_prints_registry_lines_that_parse(cli_env: Path) -> None:
    import tomllib

    from videosynth.registry import parse_registry, wan_entry

    result = CliRunner().invoke(app, ["models", "calibrate", "wan2.7-t2v"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-4] == "# MagCache ratios of demo:wan2.1 over 4 steps (fast mode; not exact)"
    table = tomllib.loads("\n".join(lines[-3:]))
    ratios = table["models"]["demo"]["mag_cache_ratios"]
    assert len(ratios) == 4 and ratios[0] == 1.0 and table["models"]["demo"]["mag_cache_threshold"] == 0.06
    body = {"models": {"demo": {"checkpoint": "demo:wan2.1", **table["models"]["demo"]}}}
    assert wan_entry(parse_registry(body, "pasted.toml").models["demo"]).mag_cache_ratios == tuple(ratios)
    missing = CliRunner().invoke(app, ["models", "calibrate", "sora-2"])
    assert missing.exit_code == 1 and "no model 'sora-2'" in missing.output


def test_random_builds_keep_the_precision_from_pretrained_gives(checkpoints: dict[str, Path]) -> None:
    # The benchmark builds full-size models in memory instead of loading them: same dtypes, same arithmetic.
    import torch
    from diffusers import WanPipeline

    from videosynth.backends.archs import TINY
    from videosynth.backends.tiny import random_pipeline

    built = random_pipeline(TINY["wan2.2-a14b"], dtype=torch.bfloat16)
    loaded = WanPipeline.from_pretrained(  # type: ignore[no-untyped-call]
        checkpoints["wan2.2-a14b"], dtype={"default": torch.bfloat16, "vae": torch.float32}
    )
    for name in ("text_encoder", "transformer", "transformer_2", "vae"):
        ours = {key: p.dtype for key, p in getattr(built, name).named_parameters()}
        assert ours == {key: p.dtype for key, p in getattr(loaded, name).named_parameters()}, name
        assert not getattr(built, name).training
    assert {p.dtype for p in built.transformer.parameters()} == {torch.bfloat16, torch.float32}  # norms stay fp32
