"""``videosynth models check NAME``: load one registry model and time a short generation on this machine."""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass, replace

from videosynth.backends.base import GenerationJob
from videosynth.domain.plan import frames_for, generation_size
from videosynth.registry import WanEntry, registry_for_settings, wan_entry
from videosynth.settings import Settings


@dataclass(frozen=True)
class CheckReport:
    entry: WanEntry
    device: str
    width: int
    height: int
    frames: int
    steps: int
    load_s: float
    generate_s: float
    peak_bytes: int
    peak_kind: str  # "GPU allocated" (torch's counter on the device) or "process RSS" (CPU)
    attention: str = "native"  # the attention backend chosen at load, with the faster ones passed over

    def lines(self) -> list[str]:
        per_step = self.generate_s / self.steps
        return [
            f"model {self.entry.name} ({self.entry.arch}) from {self.entry.checkpoint} on {self.device}",
            f"  loaded in {self.load_s:.2f} s; attention {self.attention}",
            f"  generated {self.width}x{self.height}, {self.frames} frames, {self.steps} steps in "
            f"{self.generate_s:.2f} s ({per_step:.2f} s/step including text encoding and VAE decode)",
            f"  peak memory {self.peak_bytes / 2**30:.2f} GiB ({self.peak_kind})",
        ]


def check_model(settings: Settings, name: str, steps: int = 2) -> CheckReport:
    """Load ``name`` (public or entry name) and generate one second of video at its first native size."""
    import torch

    from videosynth.backends.wan import WanGenerator

    entry = replace(wan_entry(registry_for_settings(settings).entry_for(name)), steps=steps)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    generator = WanGenerator.from_entry(entry, settings)
    loaded = time.perf_counter()
    width, height = _check_size(entry)
    frames = frames_for(entry.fps, entry.temporal_factor)
    job = GenerationJob("a red fox runs through fresh snow", "", width, height, frames, seed=0)
    generator.generate(job, lambda _step, _total: None)
    device = str(generator.pipe._execution_device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    done = time.perf_counter()
    peak, kind = _peak_memory(device)
    timing = (loaded - start, done - loaded)
    attention = generator.attention.describe()
    return CheckReport(entry, device, width, height, frames, steps, *timing, peak, kind, attention)


def _check_size(entry: WanEntry) -> tuple[int, int]:
    if entry.native_sizes:
        return entry.native_sizes[0]
    return generation_size(1280, 720, entry.spatial_multiple, entry.pixel_cap)


def _peak_memory(device: str) -> tuple[int, str]:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated()), "GPU allocated"
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024, "process RSS"


def calibrate_model(settings: Settings, name: str, prompt: str, seed: int = 0) -> tuple[WanEntry, list[float]]:
    """MagCache's magnitude ratios of ``name``'s checkpoint: one generation of its steps at its first native size,
    with nothing skipped (an entry's own cache is off for it). Paste them as its ``mag_cache_ratios``."""
    from videosynth.backends.step_cache import calibrate_mag_cache
    from videosynth.backends.wan import DEFAULT_SECONDS, WanGenerator
    from videosynth.backends.wan_pipeline import transformers
    from videosynth.registry import TWO_EXPERT_ARCHS, RegistryError

    entry = wan_entry(registry_for_settings(settings).entry_for(name))
    if entry.arch in TWO_EXPERT_ARCHS:
        raise RegistryError(f"MagCache needs one transformer; {entry.name!r} ({entry.arch}) has two experts")
    exact = replace(entry, mag_cache_ratios=(), fast_cache_threshold=None, compile=False)
    generator = WanGenerator.from_entry(exact, settings)
    width, height = _check_size(entry)
    frames = frames_for(entry.fps * DEFAULT_SECONDS, entry.temporal_factor)  # the clip most tasks ask for
    frames = min(frames, entry.max_frames or frames)
    job = GenerationJob(prompt, "", width, height, frames, seed=seed)
    [model] = transformers(generator.pipe)
    ratios = calibrate_mag_cache(model, entry.steps, lambda: generator.generate(job, lambda _step, _total: None))
    return entry, ratios
