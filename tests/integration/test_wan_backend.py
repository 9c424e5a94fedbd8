"""backends/wan.py and tiny.py: the real WanPipeline.from_pretrained path on a tiny checkpoint built here."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from videosynth.api.dashscope_wire import read_create_body
from videosynth.backends.base import GenerationAborted, GenerationJob, RunContext
from videosynth.backends.factories import build_backend
from videosynth.backends.tiny import build_tiny_wan
from videosynth.backends.wan import WanGenerator, resolve_dtype
from videosynth.domain.validate import validate_draft
from videosynth.registry import registry_for_settings
from videosynth.settings import Settings

STEPS = 2
PROMPT = "一只猫在雪地里奔跑"
JOB = GenerationJob(prompt=PROMPT, negative_prompt="blurry", width=64, height=48, num_frames=17, seed=7)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_wan(tmp_path_factory.mktemp("models") / "tiny-wan")


def _settings(tmp: Path, **overrides: object) -> Settings:
    # Pinned threads: float results differ between thread counts, and the seed tests compare bit for bit.
    # One thread: on a shared 2-core machine, two OpenMP threads competing with other jobs run ~10x slower.
    fields: dict[str, object] = {"data_dir": tmp, "device": "cpu", "torch_threads": 1, "model_steps": STEPS}
    return Settings(**(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def generator(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> WanGenerator:
    return WanGenerator.from_settings(_settings(tmp_path_factory.mktemp("data"), model=str(checkpoint)))


def _ignore(_step: int, _total: int) -> None:
    pass


def _recorder() -> tuple[list[tuple[int, int]], Callable[[int, int], None]]:
    calls: list[tuple[int, int]] = []
    return calls, lambda step, total: calls.append((step, total))


def test_capabilities_come_from_the_checkpoint_and_settings(generator: WanGenerator) -> None:
    caps = generator.capabilities
    assert (caps.fps, caps.spatial_multiple, caps.temporal_factor, caps.max_pixels) == (16, 16, 4, None)


def test_generate_returns_uint8_frames_of_the_job_size_and_reports_steps(generator: WanGenerator) -> None:
    calls, on_step = _recorder()
    frames = generator.generate(JOB, on_step)
    assert frames.shape == (17, 48, 64, 3)
    assert frames.dtype == np.uint8
    assert frames.std() > 0  # not a blank video
    assert calls == [(step, STEPS) for step in range(1, STEPS + 1)]


def test_same_seed_same_frames_other_seed_other_frames(generator: WanGenerator) -> None:
    first = generator.generate(JOB, _ignore)
    again = generator.generate(JOB, _ignore)
    other = generator.generate(replace(JOB, seed=8), _ignore)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_abort_from_on_step_stops_generation_at_once(generator: WanGenerator) -> None:
    before = generator.generate(JOB, _ignore)
    calls: list[int] = []

    def abort(step: int, _total: int) -> None:
        calls.append(step)
        raise GenerationAborted()

    with pytest.raises(GenerationAborted):
        generator.generate(JOB, abort)
    assert calls == [1]
    # The aborted run left no state behind (the scheduler restarts from its first step).
    np.testing.assert_array_equal(generator.generate(JOB, _ignore), before)


@pytest.mark.parametrize(
    ("width", "height", "num_frames", "message"),
    [
        (50, 48, 17, "multiples of 16"),
        (64, 0, 17, "multiples of 16"),
        (64, 48, 16, r"k·4\+1"),
        (64, 48, 0, "k·4"),
    ],
)
def test_bad_job_dimensions_raise_value_error(
    generator: WanGenerator, width: int, height: int, num_frames: int, message: str
) -> None:
    job = replace(JOB, width=width, height=height, num_frames=num_frames)
    with pytest.raises(ValueError, match=message):
        generator.generate(job, _ignore)


def test_the_registry_builds_the_wan_backend_whose_run_gives_the_same_frames(
    checkpoint: Path, generator: WanGenerator, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, model=str(checkpoint))
    backend = build_backend(settings, registry_for_settings(settings).entry_for("wan2.7-t2v"))
    assert isinstance(backend, WanGenerator) and backend.device == "cpu"
    calls, on_step = _recorder()
    request = validate_draft(read_create_body({"model": "wan2.7-t2v", "input": {"prompt": PROMPT}}))
    context = RunContext("t", request, on_step, {}, lambda _state: None, tmp_path)
    np.testing.assert_array_equal(backend.run(JOB, context), generator.generate(JOB, _ignore))
    assert calls == [(step, STEPS) for step in range(1, STEPS + 1)]


def test_bfloat16_keeps_the_vae_in_float32(checkpoint: Path, tmp_path: Path) -> None:
    import torch

    gen = WanGenerator.from_settings(_settings(tmp_path, model=str(checkpoint), dtype="bfloat16"))
    assert gen.pipe.transformer.dtype == torch.bfloat16
    assert gen.pipe.vae.dtype == torch.float32
    assert gen.generate(replace(JOB, num_frames=5), _ignore).shape == (5, 48, 64, 3)


def test_resolve_dtype() -> None:
    import torch

    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda:1") == torch.bfloat16
    assert resolve_dtype("float16", "cpu") == torch.float16
    with pytest.raises(ValueError, match="dtype"):
        resolve_dtype("int8", "cpu")


def test_demo_model_is_built_on_first_use(tmp_path: Path) -> None:
    settings = _settings(tmp_path, model="demo", model_steps=None)
    gen = WanGenerator.from_settings(settings)
    assert (settings.demo_checkpoint_dir() / "model_index.json").is_file()
    assert gen.capabilities.max_pixels == 64 * 64
    assert gen.entry.steps == 4


def test_tiny_build_is_reproducible(checkpoint: Path, tmp_path: Path) -> None:
    again = build_tiny_wan(tmp_path / "again")
    names = sorted(p.relative_to(checkpoint) for p in checkpoint.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for name in names:
        assert (checkpoint / name).read_bytes() == (again / name).read_bytes(), name


def test_concurrent_builds_leave_one_complete_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "models" / "tiny-wan"
    results: list[Path] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def build() -> None:
        start.wait()
        try:
            results.append(build_tiny_wan(target))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [target] * 3
    assert [p.name for p in target.parent.iterdir()] == ["tiny-wan"]  # no partial folders left
    gen = WanGenerator.from_settings(_settings(tmp_path, model=str(target)))
    assert gen.generate(replace(JOB, num_frames=5), _ignore).shape == (5, 48, 64, 3)


def test_importing_the_backend_loads_no_torch() -> None:
    code = (
        "import sys, videosynth.backends.wan, videosynth.backends.tiny, videosynth.media.encode\n"
        "heavy = sorted({'torch', 'diffusers', 'transformers'} & set(sys.modules))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
