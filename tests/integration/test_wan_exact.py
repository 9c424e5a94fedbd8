"""The exact fast path against diffusers' stock pipeline call on the toy models: same seed, same frames."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from videosynth.backends.archs import TINY
from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import random_pipeline
from videosynth.backends.wan import WanGenerator
from videosynth.bench.report import psnr
from videosynth.registry import load_registry, wan_entry
from videosynth.settings import Settings

MODELS = {
    "wan2.1": "wan2.1-t2v-1.3b",
    "wan2.2-ti2v": "wan2.2-ti2v-5b",
    "wan2.2-a14b": "wan2.2-t2v-a14b",
    "wan2.1-i2v": "wan2.1-i2v-14b-480p",
}
GRADIENT = np.linspace(0, 255, 64 * 64 * 3).reshape(64, 64, 3).astype(np.uint8)  # an image-to-video first frame


def _generator(arch: str) -> WanGenerator:
    import torch

    torch.set_num_threads(1)  # float results differ between thread counts; both runs share this one
    entry = replace(wan_entry(load_registry().models[MODELS[arch]]), steps=2, memory="gpu")
    pipe = random_pipeline(TINY[arch], seed=0, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    return WanGenerator.from_pipeline(pipe, entry, Settings(device="cpu"), "cpu")


def _stock(generator: WanGenerator, job: GenerationJob) -> npt.NDArray[np.uint8]:
    import torch

    pipe = generator.pipeline_for(job)
    pipe.scheduler = generator.scheduler_for(job.width, job.height)
    with torch.inference_mode():
        out = pipe(**generator.pipeline_kwargs(job), generator=torch.Generator("cpu").manual_seed(job.seed))
    frames: Any = out.frames[0]
    return np.rint(np.clip(frames, 0, 1) * 255).astype(np.uint8)


def _compare(ours: npt.NDArray[np.uint8], stock: npt.NDArray[np.uint8]) -> tuple[int, float]:
    delta = np.abs(ours.astype(np.int16) - stock.astype(np.int16))
    return int(delta.max()), psnr(float((delta.astype(np.float64) ** 2).mean()))


CASES = [(arch, TINY[arch].i2v) for arch in sorted(MODELS)] + [("wan2.2-ti2v", True)]  # TI2V: with or without


@pytest.mark.parametrize(("arch", "with_image"), CASES)
def test_batched_guidance_gives_stocks_frames_in_one_forward_per_step(arch: str, with_image: bool) -> None:
    generator = _generator(arch)
    image = GRADIENT if with_image else None
    job = GenerationJob("a red fox in snow", "blurry", 64, 64, 9, seed=3, image=image)
    calls: list[int] = []
    models = [m for m in (generator.pipe.transformer, getattr(generator.pipe, "transformer_2", None)) if m]
    # Inside the transformer (its patch embedding sees the batch the forward really runs).
    handles = [m.patch_embedding.register_forward_pre_hook(lambda _m, a: calls.append(a[0].shape[0])) for m in models]
    try:
        ours = generator.generate(job, lambda _step, _total: None)
        batched = list(calls)
        calls.clear()
        stock = _stock(generator, job)
    finally:
        for handle in handles:
            handle.remove()
    assert batched == [2, 2]  # two steps, each one forward of batch 2 (cond and uncond together)
    assert calls == [1, 1, 1, 1]  # stock: two batch-1 forwards per step
    max_diff, db = _compare(ours, stock)
    assert max_diff <= 2 and (db is None or db >= 45), (max_diff, db)  # None: identical frames
    assert "forward" not in vars(generator.pipe.transformer)  # the pairing is gone after the call
    assert generator.attention.backend == "native" == generator.recipe(job)["attention"]  # the CPU's only kernel
