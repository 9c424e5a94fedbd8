"""Multi-GPU for one video, on the CPU: diffusers' Ulysses context parallelism over gloo in two processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.support.context_parallel import generate, rank_main
from tests.support.net import free_port

from videosynth.backends.archs import TINY


def test_two_ranks_make_the_frames_of_one_device(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    assert TINY["wan2.1"].transformer["num_attention_heads"] % 2 == 0  # Ulysses splits heads across the ranks
    mp.spawn(rank_main, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    single = generate(1)
    for rank in (0, 1):
        frames = np.load(tmp_path / f"rank{rank}.npy")
        delta = np.abs(frames.astype(np.int16) - single.astype(np.int16))
        assert int(delta.max()) <= 1, (rank, int(delta.max()))


def test_a_degree_without_its_process_group_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ulysses_degree 2 needs a torch\.distributed group"):
        generate(2)
