"""One rank of the two-process context-parallel test (importable, so torch.multiprocessing can spawn it)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from videosynth.backends.archs import TINY
from videosynth.backends.base import GenerationJob
from videosynth.backends.tiny import random_pipeline
from videosynth.backends.wan import WanGenerator
from videosynth.registry import load_registry, wan_entry
from videosynth.settings import Settings

JOB = GenerationJob("a red fox in snow", "blurry", 64, 64, 9, seed=3)


def generate(ulysses_degree: int) -> np.ndarray:
    """The toy Wan2.1's frames for JOB, split ``ulysses_degree`` ways (1: one device, no process group needed)."""
    import torch

    torch.set_num_threads(1)
    entry = replace(wan_entry(load_registry().models["wan2.1-t2v-1.3b"]), steps=2, ulysses_degree=ulysses_degree)
    pipe = random_pipeline(TINY["wan2.1"], seed=0, device="cpu")
    pipe.set_progress_bar_config(disable=True)
    generator = WanGenerator.from_pipeline(pipe, entry, Settings(device="cpu"), "cpu")
    frames: np.ndarray = generator.generate(JOB, lambda _step, _total: None)
    return frames


def rank_main(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    # diffusers 0.42 places a rank on device `rank % torch.accelerator.device_count()`, which is 0 on a CPU-only
    # torch: one CPU "device" is what gloo ranks share.
    torch.accelerator.device_count = lambda: 1
    dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        np.save(Path(out_dir) / f"rank{rank}.npy", generate(world_size))
    finally:
        dist.destroy_process_group()
