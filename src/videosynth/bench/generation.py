"""Generation benchmark: stock diffusers ``WanPipeline`` against videosynth's backend on the same weights.

Each model is built at full size with random weights (``backends.archs.FULL``: the published configurations, so
the arithmetic is the real checkpoint's and nothing is downloaded), then generated twice back to back with one
seed: once by calling the pipeline as diffusers' docs do (eager), once through ``WanGenerator``. Hooks time the
text encoder, each denoising step and the VAE decode; FLOP/s come from ``backends.flops`` (itself checked against
``torch.utils.flop_counter`` on a small shape every run). ``--tiny`` runs the toy architectures on the CPU as a
smoke test; its timings mean nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import shlex
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from videosynth.backends.archs import FULL, TINY, ArchSpec
from videosynth.backends.base import GenerationJob
from videosynth.backends.flops import transformer_flops
from videosynth.bench.quality import passes_fast_gate, psnr_db, ssim
from videosynth.bench.report import BenchResult, FlopCheck, RunRow, psnr, to_json, to_markdown
from videosynth.registry import WanEntry, load_registry, wan_entry
from videosynth.settings import Settings

DEFAULT_MODELS = ("wan2.1-t2v-1.3b", "wan2.2-ti2v-5b", "wan2.1-t2v-14b")
# Each model at its native size and default clip length (81 frames = 5 s at 16 fps, 121 = 5 s at 24 fps).
FULL_SHAPES = {
    "wan2.1-t2v-1.3b": (832, 480, 81),
    "wan2.2-ti2v-5b": (1280, 704, 121),
    "wan2.1-t2v-14b": (832, 480, 81),
    "wan2.2-t2v-a14b": (832, 480, 81),
    # Image-to-video (the job carries a first frame of the output's size): `--models wan2.1-i2v-14b-480p,…`.
    "wan2.1-i2v-14b-480p": (832, 480, 81),
    "wan2.1-i2v-14b-720p": (1280, 720, 81),
    "wan2.2-i2v-a14b": (832, 480, 81),
}
I2V_MODELS = ("wan2.1-i2v-14b-480p", "wan2.1-i2v-14b-720p", "wan2.2-i2v-a14b")
TINY_SHAPE = (64, 64, 9)  # a multiple of 32, so the Wan2.2-TI2V toy fits too
PROMPT = "A red fox runs through fresh snow at dawn, cinematic, slow motion."
NEGATIVE = "blurry, low quality, static"
# Dense bf16 tensor-core peaks (vendor data sheets), matched against torch.cuda.get_device_name().
PEAK_BF16_TFLOPS = (("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4), ("A100", 312.0))
_MARGIN_BYTES = 12 * 2**30  # activations and the VAE decode's working set at these sizes, beyond the weights


@dataclass(frozen=True)
class BenchOptions:
    models: tuple[str, ...] = DEFAULT_MODELS
    steps: int | None = None  # default: 10 full size, 2 tiny
    device: str = "auto"
    tiny: bool = False
    seed: int = 0
    threads: int | None = None
    json_path: str | None = None  # "-" for stdout
    compile: bool = False  # torch.compile our runs (regional, after the stock run; warm-up time in the notes)


def run(options: BenchOptions, command: str) -> BenchResult:
    import diffusers
    import torch

    from videosynth.backends.wan_pipeline import resolve_device, resolve_dtype

    if options.threads:
        torch.set_num_threads(options.threads)
    device = resolve_device(options.device)
    dtype = resolve_dtype("auto", device)
    versions = {"torch": torch.__version__, "diffusers": diffusers.__version__}
    result = BenchResult(command, _device_name(device), str(dtype).removeprefix("torch."), versions, check_flops())
    registry = load_registry()  # the packaged file: the published defaults of each model
    for name in options.models:
        steps = options.steps or (2 if options.tiny else 10)
        entry = replace(wan_entry(registry.models[name]), steps=steps, memory="gpu")
        spec = TINY[entry.arch] if options.tiny else FULL[name]
        shape = TINY_SHAPE if options.tiny else FULL_SHAPES[name]
        reason = None if options.tiny else _memory_shortfall(spec, device)
        if reason:
            result.skipped.append({"model": name, "reason": reason})
            continue
        rows, notes = _bench_model(entry, spec, shape, device, dtype, options.seed, options.compile)
        result.rows += rows
        result.notes += notes
        gc.collect()
        if device.startswith("cuda"):
            torch.cuda.empty_cache()
    return result


def check_flops() -> list[FlopCheck]:
    """``backends.flops`` against torch's own counter on the toy transformers (math SDPA, so attention counts)."""
    import torch
    from diffusers import WanTransformer3DModel
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    checks = []
    latent, text = (3, 8, 12), 20
    for arch in ("wan2.1", "wan2.2-ti2v"):
        spec = TINY[arch]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model: Any = WanTransformer3DModel(**spec.transformer)  # type: ignore[no-untyped-call]
            x = torch.randn(1, spec.transformer["in_channels"], *latent)
            tokens = latent[0] * (latent[1] // 2) * (latent[2] // 2)
            timestep = torch.full((1, tokens), 500.0) if spec.expand_timesteps else torch.tensor([500.0])
            text_states = torch.randn(1, text, spec.transformer["text_dim"])
        with torch.inference_mode(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(hidden_states=x, timestep=timestep, encoder_hidden_states=text_states, return_dict=False)
        analytic = transformer_flops(spec.transformer, *latent, text, spec.expand_timesteps).total
        shape = f"latent {'x'.join(map(str, latent))}, {text} text tokens"
        checks.append(FlopCheck(arch, shape, analytic, counter.get_total_flops()))
    return checks


@dataclass(frozen=True)
class _Case:
    """What both runs of one model share."""

    entry: WanEntry
    width: int
    height: int
    frames: int
    flops_per_step: float
    peak_tflops: float | None


def _bench_model(
    entry: WanEntry, spec: ArchSpec, shape: tuple[int, int, int], device: str, dtype: Any, seed: int, compiled: bool
) -> tuple[list[RunRow], list[str]]:
    import torch

    from videosynth.backends.attention import NATIVE, attention_backend
    from videosynth.backends.compiled import compile_blocks
    from videosynth.backends.tiny import random_pipeline
    from videosynth.backends.wan import WanGenerator
    from videosynth.backends.wan_pipeline import transformers

    width, height, frames = shape
    pipe = random_pipeline(spec, seed=0, device=device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    generator = WanGenerator.from_pipeline(pipe, entry, Settings(device=device), device)
    job = GenerationJob(PROMPT, NEGATIVE, width, height, frames, seed, image=_first_frame(spec, width, height))
    # Stock: the plain pipeline call of diffusers' Wan docs with the entry's arguments (steps, guidance, text
    # length) and its scheduler: UniPCMultistepScheduler.from_config(config, flow_shift=...), as the docs set it.
    stock_kwargs = generator.pipeline_kwargs(job)
    pipe.scheduler = generator.scheduler_for(width, height)

    def stock(on_step: Callable[[], None]) -> npt.NDArray[np.uint8]:
        def step_end(_pipe: Any, _i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            on_step()
            return kwargs

        out = pipe(**stock_kwargs, generator=_cpu_generator(seed), callback_on_step_end=step_end)
        return _uint8(out.frames[0])

    def ours(on_step: Callable[[], None]) -> npt.NDArray[np.uint8]:
        return generator.generate(job, lambda _step, _total: on_step())

    models = transformers(pipe)
    chosen = generator.attention.backend

    def stock_native(on_step: Callable[[], None]) -> npt.NDArray[np.uint8]:
        with attention_backend(models, NATIVE, restore=chosen):  # diffusers' default, whatever ours chose
            return stock(on_step)

    # Warm-up (kernel selection, allocator growth) with one step of each path, so no measured run pays for it.
    # Stock's comes first: ours may be compiled, and only after stock ran (they share the transformer modules).
    with torch.inference_mode():
        pipe(**{**stock_kwargs, "num_inference_steps": 1}, generator=_cpu_generator(seed))
    case = _Case(entry, width, height, frames, _flops_per_step(entry, spec, pipe, shape), _peak_tflops(device, dtype))
    stock_row, stock_frames = _measure("diffusers", stock_native, pipe, device, case, None)
    notes = []
    if compiled:
        compile_blocks(models)
        notes.append(f"{entry.name}: transformer compiled, warm-up {generator.warm_up([shape]):.1f} s")
    else:
        generator.warm_up([shape])
    ours_row, ours_frames = _measure(
        "videosynth", ours, pipe, device, case, _Reference("stock", stock_row, stock_frames)
    )
    ours_row = replace(ours_row, attention=chosen)
    exact = _Reference("exact", ours_row, ours_frames)
    rows = [stock_row, ours_row, *_variant_rows(ours, models, pipe, device, case, exact, compiled)]
    if compiled:  # the caches' per-step decisions are graph breaks inside the compiled blocks
        notes.append(f"{entry.name}: fast modes not measured with --compile")
    elif len(models) > 1:  # MagCache counts one transformer's steps; Wan2.2-A14B's two experts share them
        notes.append(f"{entry.name}: MagCache needs one transformer")
    return rows, notes


def _variant_rows(
    ours: Callable[[Callable[[], None]], npt.NDArray[np.uint8]],
    models: list[Any],
    pipe: Any,
    device: str,
    case: _Case,
    exact: _Reference,
    compiled: bool,
) -> list[RunRow]:
    """Our run's opt-in variants, each against the exact run: a bf16 channels_last_3d copy of the VAE
    (vae_dtype, vae_channels_last), the first-block cache (fast_cache_threshold), MagCache with the ratios one
    untimed calibration run measures (what `videosynth models calibrate` prints), and FP8 weights (fp8_weights;
    last: it converts the weights for good)."""
    from videosynth.backends.fp8 import store_weights_in_fp8
    from videosynth.backends.step_cache import DEFAULT_THRESHOLD, calibrate_mag_cache, first_block_cache, mag_cache
    from videosynth.backends.vae import vae_variant

    def row(runner: str, within: Callable[[], Any]) -> RunRow:
        with within():  # around the measurement: its probe times the pipeline's modules as the variant has them
            measured, frames = _measure(runner, ours, pipe, device, case, exact)
        offered = passes_fast_gate(psnr_db(frames, exact.frames), measured.ssim or 1.0)
        return replace(measured, attention=exact.row.attention, offered=offered)

    rows = [row("videosynth bf16 VAE", lambda: vae_variant(pipe, "bfloat16", channels_last=True))]
    if compiled:
        return rows
    threshold, steps = case.entry.fast_cache_threshold or DEFAULT_THRESHOLD, case.entry.steps
    rows.append(row("videosynth fast", lambda: first_block_cache(models, threshold)))
    if len(models) == 1:
        ratios = calibrate_mag_cache(models[0], steps, lambda: ours(lambda: None))
        mag_threshold = WanEntry.mag_cache_threshold  # the registry's default
        rows.append(row("videosynth MagCache", lambda: mag_cache(models, ratios, mag_threshold, steps)))
    store_weights_in_fp8(models)
    rows.append(row("videosynth FP8 weights", contextlib.nullcontext))
    return rows


@dataclass(frozen=True)
class _Reference:
    """The run a row is compared with: its name in the table, its row and its frames."""

    name: str
    row: RunRow
    frames: npt.NDArray[np.uint8]


def _measure(
    runner: str,
    call: Callable[[Callable[[], None]], npt.NDArray[np.uint8]],
    pipe: Any,
    device: str,
    case: _Case,
    reference: _Reference | None,
) -> tuple[RunRow, npt.NDArray[np.uint8]]:
    from videosynth.bench.probe import Probe, peak_memory, reset_peak_memory

    reset_peak_memory(device)
    with Probe(pipe, device) as probe:
        start = probe.now()
        frames = call(probe.mark_step)
        seconds = probe.now() - start
    peak_bytes, peak_kind = peak_memory(device)
    step_s = statistics.median(probe.step_seconds())
    tflops = case.flops_per_step / step_s / 1e12
    diff = mse = structural = None
    if reference is not None:
        delta = np.abs(frames.astype(np.int16) - reference.frames.astype(np.int16))
        diff, mse = int(delta.max()), float((delta.astype(np.float64) ** 2).mean())
        structural = ssim(frames, reference.frames)
    row = RunRow(
        model=case.entry.name,
        runner=runner,
        width=case.width,
        height=case.height,
        frames=case.frames,
        steps=case.entry.steps,
        text_encode_s=probe.text_encode_s,
        step_s=step_s,
        vae_decode_s=probe.vae_decode_s,
        end_to_end_s=seconds,
        peak_gib=peak_bytes / 2**30,
        peak_kind=peak_kind,
        tflops=tflops,
        peak_fraction=tflops / case.peak_tflops if case.peak_tflops else None,
        speedup=reference.row.end_to_end_s / seconds if reference else 1.0,
        max_abs_diff=diff,
        psnr_db=psnr(mse) if mse is not None else None,
        ssim=structural,
        reference=reference.name if reference else None,
    )
    return row, frames


def _flops_per_step(entry: WanEntry, spec: ArchSpec, pipe: Any, shape: tuple[int, int, int]) -> float:
    width, height, frames = shape
    latent = (
        (frames - 1) // pipe.vae_scale_factor_temporal + 1,
        height // pipe.vae_scale_factor_spatial,
        width // pipe.vae_scale_factor_spatial,
    )
    forward = transformer_flops(spec.transformer, *latent, entry.max_sequence_length, spec.expand_timesteps).total
    # Classifier-free guidance: a conditional and an unconditional forward per step (diffusers: guidance > 1).
    return forward * (2 if entry.guidance_scale > 1 else 1)


def _memory_shortfall(spec: ArchSpec, device: str) -> str | None:
    """Why a full-size model cannot fit on ``device`` (counted on the meta device: nothing allocated)."""
    if not device.startswith("cuda"):
        return None
    import torch

    from videosynth.bench.probe import parameter_counts

    transformer, text, vae = parameter_counts(spec)
    need = 2 * (transformer * (2 if spec.two_experts else 1) + text) + 4 * vae + _MARGIN_BYTES
    free, _total = torch.cuda.mem_get_info(torch.device(device))
    if need <= free:
        return None
    return f"needs about {need / 2**30:.0f} GiB of GPU memory, {free / 2**30:.0f} GiB free"


def _peak_tflops(device: str, dtype: Any) -> float | None:
    import torch

    if not device.startswith("cuda") or dtype != torch.bfloat16:
        return None
    name = torch.cuda.get_device_name(torch.device(device))
    return next((peak for key, peak in PEAK_BF16_TFLOPS if key in name), None)


def _device_name(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    return f"{device} ({torch.get_num_threads()} threads)"


def _first_frame(spec: ArchSpec, width: int, height: int) -> npt.NDArray[np.uint8] | None:
    """An image-to-video model's input: a smooth gradient picture at the output size (None for text-to-video)."""
    if not spec.i2v:
        return None
    x, y = np.meshgrid(np.linspace(0, 255, width), np.linspace(0, 255, height))
    return np.stack([x, y, np.full_like(x, 128)], axis=-1).astype(np.uint8)


def _cpu_generator(seed: int) -> Any:
    import torch

    return torch.Generator(device="cpu").manual_seed(seed)  # as WanGenerator: same noise on any device


def _uint8(frames: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.uint8]:
    scaled = np.clip(frames, 0.0, 1.0) * 255.0
    out: npt.NDArray[np.uint8] = np.rint(scaled).astype(np.uint8)
    return out


# ---- entry points ---------------------------------------------------------------------------------------------


def report(options: BenchOptions, command: str) -> str:
    """Run, write the JSON where asked, and return the Markdown table (with the JSON appended for "-")."""
    result = run(options, command)
    text = to_markdown(result)
    if options.json_path == "-":
        text += "\n\n```json\n" + to_json(result) + "\n```"
    elif options.json_path:
        Path(options.json_path).write_text(to_json(result) + "\n", encoding="utf-8")
    return text


def parse_args(argv: Sequence[str], prog: str = "python bench/generation.py") -> BenchOptions:
    parser = argparse.ArgumentParser(prog=prog, description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help=f"comma-separated, of {', '.join(FULL)}")
    parser.add_argument("--steps", type=int, default=None, help="denoising steps (default 10; --tiny 2)")
    parser.add_argument("--device", default="auto", help="torch device (default: cuda if visible)")
    parser.add_argument("--tiny", action="store_true", help="toy architectures at 64x64x9 on the CPU (smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--compile", action="store_true", help="torch.compile videosynth's runs (warm-up reported)")
    parser.add_argument("--json", dest="json_path", default=None, help="write JSON here ('-': print it)")
    args = parser.parse_args(list(argv))
    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if unknown := [m for m in models if m not in FULL]:
        parser.error(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(FULL)}")
    device = "cpu" if args.tiny and args.device == "auto" else args.device
    return BenchOptions(models, args.steps, device, args.tiny, args.seed, args.threads, args.json_path, args.compile)


def main(argv: Sequence[str] | None = None, prog: str = "python bench/generation.py") -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    options = parse_args(argv, prog)
    print(report(options, f"{prog} {shlex.join(argv)}"), flush=True)
    return 0


if __name__ == "__main__":  # python -m videosynth.bench.generation (bench/device/run.sh)
    raise SystemExit(main(prog="python -m videosynth.bench.generation"))
