"""Image-to-video through the real from_pretrained path on tiny checkpoints: Wan2.1-I2V (CLIP image encoder),
Wan2.2-I2V-A14B (two experts, first and last frame) and Wan2.2-TI2V (the same weights with and without an image).

The conditioning must reach the pipeline: with one seed and prompt, a different image gives different frames, the
same image the same frames, and the pipeline is handed exactly the pixels that were decoded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import build_tiny_wan
from videosynth.backends.wan import UnsupportedJob, WanGenerator
from videosynth.cli import app
from videosynth.registry import WanEntry, detect_arch
from videosynth.settings import Settings

ARCHS = ("wan2.1-i2v", "wan2.2-i2v-a14b", "wan2.2-ti2v")
_RNG = np.random.default_rng(7)
CAT = _RNG.integers(0, 256, (48, 80, 3), dtype=np.uint8)
DOG = _RNG.integers(0, 256, (48, 80, 3), dtype=np.uint8)
JOB = GenerationJob(prompt="a cat", negative_prompt="", width=64, height=64, num_frames=9, seed=3, image=CAT)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("i2v-models")
    return {arch: build_tiny_wan(root / arch, arch=arch) for arch in ARCHS}


@pytest.fixture(scope="module")
def generators(checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, WanGenerator]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), device="cpu", torch_threads=1)  # type: ignore[call-arg]
    built = {}
    for arch, folder in checkpoints.items():
        fields: dict[str, Any] = {"fps": 16, "steps": 2, "guidance_scale": 5.0}
        fields["spatial_multiple"] = 32 if arch == "wan2.2-ti2v" else 16
        if arch == "wan2.2-i2v-a14b":
            fields["guidance_scale_2"] = 3.0
        entry = WanEntry(name=f"tiny-{arch}", checkpoint=str(folder), arch=arch, **fields)  # type: ignore[arg-type]
        built[arch] = WanGenerator.from_entry(entry, settings)
    return built


def _frames(gen: WanGenerator, job: GenerationJob) -> np.ndarray[Any, Any]:
    return gen.generate(job, lambda *_: None)


@pytest.mark.parametrize("arch", ARCHS)
def test_the_image_steers_the_video(arch: str, generators: dict[str, WanGenerator]) -> None:
    gen = generators[arch]
    assert gen.capabilities.takes_images
    cat = _frames(gen, JOB)
    assert cat.shape == (9, 64, 64, 3)
    np.testing.assert_array_equal(_frames(gen, JOB), cat)  # same seed, same image: the same video
    assert not np.array_equal(_frames(gen, replace(JOB, image=DOG)), cat)  # another image: another video


@pytest.mark.parametrize("arch", ARCHS)
def test_the_pipeline_gets_the_decoded_pixels(arch: str, generators: dict[str, WanGenerator]) -> None:
    kwargs = generators[arch].pipeline_kwargs(replace(JOB, last_image=DOG))
    np.testing.assert_array_equal(np.asarray(kwargs["image"]), CAT)
    np.testing.assert_array_equal(np.asarray(kwargs["last_image"]), DOG)


def test_a14b_i2v_also_takes_a_last_frame(generators: dict[str, WanGenerator]) -> None:
    gen = generators["wan2.2-i2v-a14b"]
    assert type(gen.pipe).__name__ == "WanImageToVideoPipeline" and gen.pipe.transformer_2 is not None
    first_only = _frames(gen, JOB)
    assert not np.array_equal(_frames(gen, replace(JOB, last_image=DOG)), first_only)


def test_wan21_i2v_encodes_the_image_with_clip(generators: dict[str, WanGenerator]) -> None:
    gen = generators["wan2.1-i2v"]
    assert gen.pipe.image_encoder is not None and gen.pipe.transformer.config.image_dim == 4
    with pytest.raises(UnsupportedJob, match="takes no last frame"):
        _frames(gen, replace(JOB, last_image=DOG))  # I2V-14B has no FLF2V position embedding


@pytest.mark.parametrize("arch", ["wan2.1-i2v", "wan2.2-i2v-a14b"])
def test_an_i2v_model_needs_an_image(arch: str, generators: dict[str, WanGenerator]) -> None:
    with pytest.raises(UnsupportedJob, match="needs a first frame image"):
        _frames(generators[arch], replace(JOB, image=None))


def test_ti2v_makes_text_to_video_too_with_the_same_weights(generators: dict[str, WanGenerator]) -> None:
    gen = generators["wan2.2-ti2v"]
    text_only = _frames(gen, replace(JOB, image=None))
    assert text_only.shape == (9, 64, 64, 3)
    assert gen.pipeline_for(JOB).transformer is gen.pipe.transformer  # a view, not a second copy
    assert not np.array_equal(_frames(gen, JOB), text_only)
    with pytest.raises(UnsupportedJob, match="takes no last frame"):
        _frames(gen, replace(JOB, last_image=DOG))


@pytest.mark.parametrize("arch", ["wan2.1-i2v", "wan2.2-i2v-a14b"])
def test_arch_is_detected_from_the_folder_and_build_tiny_makes_it(arch: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["models", "build-tiny", str(tmp_path / arch), "--arch", arch])
    assert result.exit_code == 0, result.output
    assert detect_arch(tmp_path / arch) == arch
