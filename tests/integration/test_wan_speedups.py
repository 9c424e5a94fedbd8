"""Opt-in speed-ups on the toy Wan2.1: the fast mode's step cache and torch.compile against the exact path."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from videosynth.backends.archs import TINY
from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import random_pipeline
from videosynth.backends.wan import WanGenerator
from videosynth.registry import RegistryError, WanEntry, load_registry, parse_registry, wan_entry
from videosynth.settings import Settings

JOB = GenerationJob("a red fox in snow", "blurry", 64, 64, 9, seed=3)


def _entry(**overrides: object) -> WanEntry:
    fields: dict[str, object] = {"steps": 3, "memory": "gpu"} | overrides
    return replace(wan_entry(load_registry().models["wan2.1-t2v-1.3b"]), **fields)  # type: ignore[arg-type]


def _generator(entry: WanEntry) -> WanGenerator:
    import torch

    torch.set_num_threads(1)
    pipe = random_pipeline(TINY["wan2.1"], seed=0, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    return WanGenerator.from_pipeline(pipe, entry, Settings(device="cpu"), "cpu")


def _frames_and_full_forwards(generator: WanGenerator) -> tuple[np.ndarray, int]:
    """The job's frames and how many forwards ran past the first block (the ones the cache did not skip)."""
    calls: list[int] = []
    handle = generator.pipe.transformer.blocks[-1].ffn.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        frames = generator.generate(JOB, lambda _step, _total: None)
    finally:
        handle.remove()
    return frames, len(calls)


def test_fast_mode_skips_steps_through_diffusers_first_block_cache() -> None:
    exact, exact_forwards = _frames_and_full_forwards(_generator(_entry()))
    # A threshold no residual change reaches: every step after the first reuses the cached residual.
    fast_generator = _generator(_entry(fast_cache_threshold=1e6))
    fast, fast_forwards = _frames_and_full_forwards(fast_generator)
    assert (exact_forwards, fast_forwards) == (3, 1)  # 3 steps of one batched forward; the cache: only the first
    assert fast.shape == exact.shape and not np.array_equal(fast, exact)
    assert fast_generator.recipe(JOB)["fast_cache_threshold"] == 1e6


def test_the_registry_refuses_a_fast_threshold_beyond_the_gate() -> None:
    def body(threshold: float) -> dict[str, object]:
        return {"models": {"m": {"checkpoint": "demo:wan2.1", "fast_cache_threshold": threshold}}}

    assert wan_entry(parse_registry(body(0.05), "r.toml").models["m"]).fast_cache_threshold == 0.05
    with pytest.raises(RegistryError, match=r"fast_cache_threshold must be in \(0, 0.1\]"):
        parse_registry(body(0.5), "r.toml")
    both = {"models": {"m": {"checkpoint": "demo:wan2.1", "fast_cache_threshold": 0.05, "compile": True}}}
    with pytest.raises(RegistryError, match="fast_cache_threshold and compile do not combine"):
        parse_registry(both, "r.toml")


def test_compiled_transformer_gives_the_eager_frames() -> None:
    eager, _ = _frames_and_full_forwards(_generator(_entry(steps=2)))
    compiled_generator = _generator(_entry(steps=2, compile=True))
    seconds = compiled_generator.warm_up([(JOB.width, JOB.height, JOB.num_frames)])
    compiled, _ = _frames_and_full_forwards(compiled_generator)
    assert seconds > 0 and compiled_generator.warmup_s == seconds
    delta = np.abs(compiled.astype(np.int16) - eager.astype(np.int16))
    assert int(delta.max()) <= 2, int(delta.max())


def test_a_bf16_channels_last_vae_decodes_close_to_the_float32_one() -> None:
    import torch

    from videosynth.bench.quality import psnr_db, ssim

    exact, _ = _frames_and_full_forwards(_generator(_entry()))
    layout = _generator(_entry(vae_channels_last=True))
    conv = next(m for m in layout.pipe.vae.modules() if isinstance(m, torch.nn.Conv3d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    reordered, _ = _frames_and_full_forwards(layout)
    assert int(np.abs(reordered.astype(np.int16) - exact.astype(np.int16)).max()) <= 1  # the same arithmetic
    fast = _generator(_entry(vae_dtype="bfloat16", vae_channels_last=True))
    assert fast.pipe.vae.dtype == torch.bfloat16 and fast.pipe.transformer.dtype == torch.float32
    decoded, _ = _frames_and_full_forwards(fast)
    assert decoded.shape == exact.shape and not np.array_equal(decoded, exact)  # bf16 rounds…
    assert psnr_db(decoded, exact) >= 30 and ssim(decoded, exact) >= 0.95  # …within the fast mode's gate here
    recipe = fast.recipe(JOB)
    assert (recipe["vae_dtype"], recipe["vae_channels_last"], recipe["dtype"]) == ("bfloat16", True, "float32")


def test_the_registry_names_the_vae_dtypes_it_takes() -> None:
    body = {"models": {"m": {"checkpoint": "demo:wan2.1", "vae_dtype": "bfloat16", "vae_channels_last": True}}}
    entry = wan_entry(parse_registry(body, "r.toml").models["m"])
    assert (entry.vae_dtype, entry.vae_channels_last) == ("bfloat16", True)
    with pytest.raises(RegistryError, match="vae_dtype must be one of float32, bfloat16, float16, got 'int8'"):
        parse_registry({"models": {"m": {"checkpoint": "demo:wan2.1", "vae_dtype": "int8"}}}, "r.toml")


def test_mag_cache_calibrates_the_checkpoint_then_skips_steps_with_its_ratios() -> None:
    from videosynth.backends.step_cache import calibrate_mag_cache

    steps = 6
    exact_generator = _generator(_entry(steps=steps))
    exact, exact_forwards = _frames_and_full_forwards(exact_generator)
    ratios = calibrate_mag_cache(
        exact_generator.pipe.transformer, steps, lambda: exact_generator.generate(JOB, lambda _s, _t: None)
    )
    assert len(ratios) == steps and ratios[0] == 1.0 and all(r > 0 for r in ratios)
    assert not exact_generator.pipe.transformer.is_cache_enabled  # calibration leaves the exact path as it was
    again, _ = _frames_and_full_forwards(exact_generator)
    assert np.array_equal(again, exact)

    fast_generator = _generator(_entry(steps=steps, mag_cache_ratios=tuple(ratios), mag_cache_threshold=0.2))
    fast, fast_forwards = _frames_and_full_forwards(fast_generator)
    assert exact_forwards == steps and 1 <= fast_forwards < steps  # retention keeps the first; then it skips
    assert fast.shape == exact.shape and not np.array_equal(fast, exact)
    assert fast_generator.recipe(JOB)["mag_cache"] == {"threshold": 0.2, "ratios": ratios}


@pytest.mark.parametrize("cache", [{"fast_cache_threshold": 1e6}, {"mag_cache_ratios": (1.0,) * 4}])
def test_a_run_aborted_mid_way_leaves_no_cache_state_to_the_next(cache: dict[str, object]) -> None:
    from videosynth.backends.base import GenerationAborted

    entry = _entry(steps=4, **cache)
    clean, _ = _frames_and_full_forwards(_generator(entry))
    generator = _generator(entry)

    def abort(step: int, _total: int) -> None:
        if step == 2:
            raise GenerationAborted()

    with pytest.raises(GenerationAborted):
        generator.generate(replace(JOB, seed=99), abort)  # leaves the cache's residuals and step count behind
    after, _ = _frames_and_full_forwards(generator)
    assert np.array_equal(after, clean)


def test_the_registry_takes_mag_cache_ratios_only_where_they_work() -> None:
    def parse(**model: object) -> WanEntry:
        return wan_entry(
            parse_registry({"models": {"m": {"checkpoint": "demo:wan2.1", **model}}}, "r.toml").models["m"]
        )

    entry = parse(mag_cache_ratios=[1, 1.02, 0.98], mag_cache_threshold=0.1)
    assert (entry.mag_cache_ratios, entry.mag_cache_threshold) == ((1.0, 1.02, 0.98), 0.1)
    assert parse().mag_cache_ratios == ()  # off by default: the exact path
    refusals = {
        "mag_cache_ratios must all be > 0": {"mag_cache_ratios": [1.0, 0.0]},
        r"mag_cache_threshold must be in \(0, 0.2\]": {"mag_cache_ratios": [1.0], "mag_cache_threshold": 0.5},
        "do not combine with fast_cache_threshold or compile": {"mag_cache_ratios": [1.0], "compile": True},
        "must be a number": {"mag_cache_ratios": ["x"]},
    }
    for message, model in refusals.items():
        with pytest.raises(RegistryError, match=message):
            parse(**model)
    two_experts = {"checkpoint": "demo:wan2.2-a14b", "mag_cache_ratios": [1.0]}
    with pytest.raises(RegistryError, match="MagCache needs one transformer"):
        parse_registry({"models": {"m": two_experts}}, "r.toml")


def test_fp8_weights_halve_the_transformer_and_keep_the_frames_close() -> None:
    import torch

    from videosynth.bench.quality import psnr_db, ssim

    def weight_bytes(model: torch.nn.Module) -> int:
        return sum(p.numel() * p.element_size() for p in model.parameters())

    exact_generator = _generator(_entry())
    exact, _ = _frames_and_full_forwards(exact_generator)
    fp8 = _generator(_entry(fp8_weights=True))
    model = fp8.pipe.transformer
    assert model.dtype == torch.float32  # the compute dtype: what the prompt embeddings are cast to
    assert model.blocks[0].ffn.net[0].proj.weight.dtype == torch.float8_e4m3fn
    assert weight_bytes(model) < 0.75 * weight_bytes(exact_generator.pipe.transformer)  # norms etc. stay float32
    frames, _ = _frames_and_full_forwards(fp8)
    assert psnr_db(frames, exact) >= 30 and ssim(frames, exact) >= 0.95
    assert fp8.recipe(JOB)["fp8_weights"] is True and exact_generator.recipe(JOB)["fp8_weights"] is False
    both = {"models": {"m": {"checkpoint": "demo:wan2.1", "fp8_weights": True, "compile": True}}}
    with pytest.raises(RegistryError, match="fp8_weights and compile do not combine"):
        parse_registry(both, "r.toml")
