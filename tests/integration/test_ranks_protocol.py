"""The multi-GPU worker's leader/follower protocol over real gloo, two processes, with a toy model.

A job that fails alike on every rank fails as on one GPU and leaves the group whole; an abort at a step leaves
both ranks at that step; the end lets the follower go. (A rank that dies: tests/e2e/test_ranked_worker.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.net import free_port
from tests.support.ranks_protocol import rank_main


def test_failures_aborts_and_the_end_keep_both_ranks_in_step(tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(rank_main, args=(free_port(), str(tmp_path)), nprocs=2, join=True)
    leader = json.loads((tmp_path / "rank0.json").read_text())
    follower = json.loads((tmp_path / "rank1.json").read_text())
    assert leader == {"fails alike": "ValueError", "made": 2, "aborted": "GenerationAborted", "broken": False}
    assert follower == {"jobs": 3}  # it ran all three and left at the end, not by an error
