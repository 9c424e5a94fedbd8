"""A rank's place in a torchrun group, read from the environment torchrun sets."""

from __future__ import annotations

import pytest

from videosynth.backends.ranks import Ranks


def test_no_torchrun_is_one_leading_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert Ranks.from_environment() == Ranks(0, 0, 1) and Ranks(0, 0, 1).leader


def test_a_rank_reads_its_place_and_takes_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "8")
    ranks = Ranks.from_environment()
    assert ranks == Ranks(5, 1, 8) and not ranks.leader
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert ranks.device("auto") == ranks.device("cuda") == "cuda:1"
    assert ranks.device("cuda:3") == "cuda:3"  # named outright: as configured
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ranks.device("auto") == "cpu" and ranks.device("cuda") == "cuda"
