"""Rows of the generation benchmark and their Markdown / JSON forms (pure; see ``videosynth.bench.generation``)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from videosynth.bench.quality import MIN_FAST_PSNR_DB, MIN_FAST_SSIM


@dataclass(frozen=True)
class RunRow:
    model: str
    # "diffusers" (stock WanPipeline, eager), "videosynth" (WanGenerator), "videosynth bf16 VAE" or "videosynth fast"
    runner: str
    width: int
    height: int
    frames: int
    steps: int
    text_encode_s: float  # prompt + negative prompt through the text encoder
    step_s: float  # median wall time of one denoising step (all transformer forwards of that step)
    vae_decode_s: float
    end_to_end_s: float  # the whole call: tokenizing to float frames
    peak_gib: float
    peak_kind: str  # "GPU allocated" or "process RSS" (CPU: a process-wide high-water mark)
    tflops: float  # analytic transformer FLOPs per step / step_s
    peak_fraction: float | None  # tflops / the device's dense bf16 peak, where known
    speedup: float | None  # the reference's end_to_end_s / this end_to_end_s
    max_abs_diff: int | None  # against the reference's frames, in 8-bit levels
    psnr_db: float | None  # against the reference's frames; None when identical (infinite)
    ssim: float | None = None  # against the reference's frames (bench.quality)
    reference: str | None = None  # "stock" (the exact path) or "exact" (the fast mode); None for stock itself
    attention: str = "native"  # the attention backend the run used
    offered: bool | None = None  # fast mode only: whether its quality passes bench.quality's gate


@dataclass(frozen=True)
class FlopCheck:
    arch: str
    shape: str
    analytic: int
    counted: int  # torch.utils.flop_counter.FlopCounterMode

    @property
    def relative_error(self) -> float:
        return self.analytic / self.counted - 1.0


@dataclass
class BenchResult:
    command: str
    device: str
    dtype: str
    versions: dict[str, str]
    flop_checks: list[FlopCheck]
    rows: list[RunRow] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. each model's compile warm-up time


COLUMNS = (
    "model",
    "runner",
    "size",
    "steps",
    "text encode (s)",
    "denoise (s/step)",
    "VAE decode (s)",
    "end to end (s)",
    "peak mem (GiB)",
    "TFLOP/s",
    "% of peak",
    "speedup",
    "vs",
    "max abs diff",
    "PSNR (dB)",
    "SSIM",
    "attention",
    "offered",
)


def to_markdown(result: BenchResult) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in result.versions.items())
    lines = [
        "## Generation benchmark",
        "",
        f"Reproduce: `{result.command}`",
        "",
        f"Device: {result.device} · dtype {result.dtype} · {versions}",
        "FLOP model vs torch.utils.flop_counter: "
        + ", ".join(f"{c.arch} {c.shape} {c.relative_error:+.2%}" for c in result.flop_checks),
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in result.rows]
    lines += [f"\n{note}" for note in result.notes]
    for skip in result.skipped:
        lines.append(f"\nSkipped {skip['model']}: {skip['reason']}")
    peak_note = {row.peak_kind for row in result.rows}
    if any(row.offered is not None for row in result.rows):
        lines.append(
            "\nThe bf16 VAE, fast mode, MagCache and FP8 rows compare with the exact path (speed-up and quality); "
            f"a mode is offered only at PSNR ≥ {MIN_FAST_PSNR_DB:g} dB and SSIM ≥ {MIN_FAST_SSIM:g} against it."
        )
    if "process RSS" in peak_note:
        lines.append("\nPeak memory on CPU is the process's resident high-water mark, cumulative over the runs.")
    return "\n".join(lines)


def to_json(result: BenchResult) -> str:
    data: dict[str, Any] = asdict(result)
    for check, raw in zip(result.flop_checks, data["flop_checks"], strict=True):
        raw["relative_error"] = check.relative_error
    return json.dumps(data, indent=2, ensure_ascii=False)


def psnr(mse: float) -> float | None:
    """PSNR in dB of 8-bit frames from their mean squared error; None for identical frames."""
    if mse == 0:
        return None
    return 10.0 * math.log10(255.0**2 / mse)


def _cells(row: RunRow) -> list[str]:
    return [
        row.model,
        row.runner,
        f"{row.width}x{row.height}x{row.frames}",
        str(row.steps),
        f"{row.text_encode_s:.3f}",
        f"{row.step_s:.3f}",
        f"{row.vae_decode_s:.3f}",
        f"{row.end_to_end_s:.3f}",
        f"{row.peak_gib:.2f}",
        f"{row.tflops:.3g}",
        "—" if row.peak_fraction is None else f"{row.peak_fraction:.1%}",
        "—" if row.speedup is None else f"{row.speedup:.2f}×",
        row.reference or "—",
        "—" if row.max_abs_diff is None else str(row.max_abs_diff),
        _psnr_cell(row),
        "—" if row.ssim is None else f"{row.ssim:.4f}",
        row.attention,
        {None: "—", True: "yes", False: "no (below the gate)"}[row.offered],
    ]


def _psnr_cell(row: RunRow) -> str:
    if row.max_abs_diff is None:
        return "—"
    return "identical" if row.psnr_db is None else f"{row.psnr_db:.1f}"
