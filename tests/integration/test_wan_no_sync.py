"""No host-device sync in the step loop: every tensor read back to Python while the model denoises is counted.

On a GPU, ``.item()``, ``float(t)``, ``bool(t)``, ``.cpu()``, ``.tolist()`` … of a device tensor block the host
until the GPU catches up, so the next step's kernels cannot be queued ahead. The test patches those methods for
the denoising phase (first transformer forward to VAE decode) and records where each call came from and on which
device its tensor lives.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from videosynth.backends.archs import TINY
from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import random_pipeline
from videosynth.backends.wan import WanGenerator
from videosynth.registry import load_registry, wan_entry
from videosynth.settings import Settings

READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__float__", "__int__", "__index__", "nonzero")


@contextmanager
def recorded_reads(monkeypatch: pytest.MonkeyPatch, active: Callable[[], bool]) -> Iterator[list[tuple[str, ...]]]:
    import torch

    calls: list[tuple[str, ...]] = []

    def counting(name: str, method: Any) -> Any:
        def read(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if active():
                caller = traceback.extract_stack(limit=2)[0]
                calls.append((name, Path(caller.filename).name, caller.name, self.device.type))
            return method(self, *args, **kwargs)

        return read

    for name in READS:
        monkeypatch.setattr(torch.Tensor, name, counting(name, getattr(torch.Tensor, name)))
    yield calls


@pytest.mark.parametrize("fast", [False, True])
def test_the_step_loop_reads_nothing_back_from_the_device(monkeypatch: pytest.MonkeyPatch, fast: bool) -> None:
    import torch

    torch.set_num_threads(1)
    entry = replace(wan_entry(load_registry().models["wan2.1-t2v-1.3b"]), steps=4, memory="gpu")
    entry = replace(entry, fast_cache_threshold=0.05) if fast else entry
    pipe = random_pipeline(TINY["wan2.1"], seed=0, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    generator = WanGenerator.from_pipeline(pipe, entry, Settings(device="cpu"), "cpu")
    denoising = [False]
    pipe.transformer.register_forward_pre_hook(lambda *_: denoising.__setitem__(0, True))
    pipe.vae.decoder.register_forward_pre_hook(lambda *_: denoising.__setitem__(0, False))
    with recorded_reads(monkeypatch, lambda: denoising[0]) as calls:
        generator.generate(GenerationJob("a fox", "blurry", 64, 64, 9, seed=1), lambda _step, _total: None)
    # The one read left is diffusers' own `float(self.scheduler.sigmas[i])` for the cache context, and UniPC keeps
    # its sigmas on the CPU by design ("to avoid too much CPU/GPU communication"): no device sync.
    assert pipe.scheduler.sigmas.device.type == "cpu"
    sigma = ("__float__", "pipeline_wan.py", "__call__", "cpu")
    assert calls.count(sigma) == entry.steps - 1  # once per step after the first forward began recording
    decisions = [call for call in calls if call != sigma]
    if not fast:
        assert decisions == []  # the exact path: nothing
    else:
        # The step cache's whole point is a data-dependent choice: one read per forward after the first, by design
        # of the fast mode (README: the exact path has none).
        assert set(decisions) == {("item", "first_block_cache.py", "_should_compute_remaining_blocks", "cpu")}
        assert len(decisions) == entry.steps - 1
