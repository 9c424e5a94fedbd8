"""The generation benchmark's --tiny mode, once: the table and JSON it prints (no timing assertions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videosynth.bench.generation import DEFAULT_MODELS, main
from videosynth.bench.report import COLUMNS

RUNNERS = (
    "diffusers",
    "videosynth",
    "videosynth bf16 VAE",
    "videosynth fast",
    "videosynth MagCache",
    "videosynth FP8 weights",
)
TWO_EXPERT_RUNNERS = tuple(r for r in RUNNERS if r != "videosynth MagCache")  # it counts one transformer's steps


def test_tiny_bench_prints_the_table_and_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert main(["--tiny", "--threads", "1", "--json", str(out)]) == 0
    text = capsys.readouterr().out

    header = "| " + " | ".join(COLUMNS) + " |"
    assert header in text
    assert "Reproduce: `python bench/generation.py --tiny --threads 1 --json " in text
    table = [line for line in text.splitlines() if line.startswith("| wan")]
    assert [line.split(" | ")[:2] for line in table] == [
        [f"| {model}", runner] for model in DEFAULT_MODELS for runner in RUNNERS
    ]
    assert all(len(line.split(" | ")) == len(COLUMNS) for line in table)
    assert "The bf16 VAE, fast mode, MagCache and FP8 rows compare with the exact path" in text

    data = json.loads(out.read_text())
    assert data["device"].startswith("cpu")
    assert len(data["rows"]) == len(RUNNERS) * len(DEFAULT_MODELS)
    for check in data["flop_checks"]:
        assert abs(check["relative_error"]) < 0.02  # the analytic FLOP model agrees with torch's counter
    for row in data["rows"]:
        assert row["steps"] == 2
        assert (row["width"], row["height"], row["frames"]) == (64, 64, 9)
        assert row["step_s"] > 0
        assert row["tflops"] > 0
        assert row["attention"] == "native"  # the CPU's only exact kernel
        if row["runner"] == "videosynth":
            # Same seed; batching the guidance passes into one forward may move values by a level or two.
            assert row["max_abs_diff"] <= 2
            assert row["reference"] == "stock" and row["ssim"] > 0.99
        if row["runner"] not in ("diffusers", "videosynth"):
            assert row["reference"] == "exact" and isinstance(row["offered"], bool)
            gate = (row["psnr_db"] is None or row["psnr_db"] >= 30) and row["ssim"] >= 0.95
            assert row["offered"] == gate


def test_tiny_bench_has_image_to_video_rows(tmp_path: Path) -> None:
    # The I2V shapes: each model's job carries a first frame, so the pipeline encodes it (VAE, and CLIP for 2.1).
    out = tmp_path / "bench.json"
    models = ("wan2.1-i2v-14b-480p", "wan2.2-i2v-a14b")
    assert main(["--tiny", "--threads", "1", "--models", ",".join(models), "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(row["model"], row["runner"]) for row in rows] == [(models[0], runner) for runner in RUNNERS] + [
        (models[1], runner) for runner in TWO_EXPERT_RUNNERS
    ]
    assert all(row["step_s"] > 0 for row in rows)
    assert all(row["max_abs_diff"] <= 2 for row in rows if row["runner"] == "videosynth")
