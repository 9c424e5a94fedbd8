"""The worker-overlap benchmark with tiny numbers, once: both modes run their queue to the end (no timing asserts)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.worker_overlap import main


def test_tiny_overlap_bench_prints_both_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "overlap.json"
    args = ["--tasks", "2", "--steps", "2", "--duration", "2", "--encode-frames", "2", "--json", str(out)]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "| mode | tasks | wall s | tasks/min | model busy s | model idle s | model idle % |" in text
    rows = [line.split(" | ")[:2] for line in text.splitlines() if line.startswith(("| sequential", "| overlapped"))]
    assert rows == [["| sequential", "2"], ["| overlapped", "2"]]
    assert "encode_mp4, 1920×1080:" in text and "Reproduce: `python bench/worker_overlap.py --tasks 2" in text

    data = json.loads(out.read_text())
    assert [mode["mode"] for mode in data["modes"]] == ["sequential", "overlapped"]
    for mode in data["modes"]:
        assert mode["tasks"] == 2 and mode["wall_s"] > 0 and mode["model_busy_s"] > 0
        assert 0 <= mode["model_idle_fraction"] <= 1
    assert data["encode_1080p_ms_per_frame"] > 0
