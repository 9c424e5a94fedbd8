"""Timing and memory probes the generation benchmark hangs on a ``WanPipeline`` (torch imported lazily)."""

from __future__ import annotations

import resource
import sys
import time
from types import TracebackType
from typing import Any

from videosynth.backends.archs import ArchSpec


class Probe:
    """Times the text encoder, each denoising step and the VAE decode of one pipeline call.

    Forward hooks on the text encoder, a pre-hook on each transformer (the first one starts step 1) and a wrapper
    around ``vae.decode``; ``mark_step`` is called from the step callback. On CUDA every timestamp synchronises
    first, so a stage's time is its GPU work, not its launch.
    """

    def __init__(self, pipe: Any, device: str) -> None:
        self._pipe = pipe
        self._cuda = device.startswith("cuda")
        self.text_encode_s = 0.0
        self.vae_decode_s = 0.0
        self._first_forward: float | None = None
        self._marks: list[float] = []
        self._handles: list[Any] = []
        self._text_start = 0.0

    def now(self) -> float:
        if self._cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def mark_step(self) -> None:
        self._marks.append(self.now())

    def step_seconds(self) -> list[float]:
        if self._first_forward is None or not self._marks:
            raise RuntimeError("no denoising step was observed")
        starts = [self._first_forward, *self._marks[:-1]]
        return [end - start for start, end in zip(starts, self._marks, strict=True)]

    def __enter__(self) -> Probe:
        pipe = self._pipe
        self._handles.append(pipe.text_encoder.register_forward_pre_hook(self._text_pre))
        self._handles.append(pipe.text_encoder.register_forward_hook(self._text_post))
        for model in (pipe.transformer, getattr(pipe, "transformer_2", None)):
            if model is not None:
                self._handles.append(model.register_forward_pre_hook(self._transformer_pre))
        decode = pipe.vae.decode

        def timed_decode(*args: Any, **kwargs: Any) -> Any:
            start = self.now()
            out = decode(*args, **kwargs)
            self.vae_decode_s += self.now() - start
            return out

        pipe.vae.decode = timed_decode  # an instance attribute shadows the method for this call only
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        for handle in self._handles:
            handle.remove()
        del self._pipe.vae.decode  # back to the class's method

    def _text_pre(self, *_args: Any) -> None:
        self._text_start = self.now()

    def _text_post(self, *_args: Any) -> None:
        self.text_encode_s += self.now() - self._text_start

    def _transformer_pre(self, *_args: Any) -> None:
        if self._first_forward is None:
            self._first_forward = self.now()


def reset_peak_memory(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))


def peak_memory(device: str) -> tuple[int, str]:
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.max_memory_allocated(torch.device(device))), "GPU allocated"
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return rss if sys.platform == "darwin" else rss * 1024, "process RSS"


def parameter_counts(spec: ArchSpec) -> tuple[int, int, int]:
    """Parameters of (one transformer, text encoder, VAE), built on the meta device: no memory, no init."""
    import torch
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    with torch.device("meta"):
        transformer = WanTransformer3DModel(**spec.transformer)  # type: ignore[no-untyped-call]
        text = UMT5EncoderModel(UMT5Config(**{"vocab_size": 32_128, **spec.text_encoder}))
        vae = AutoencoderKLWan(**spec.vae)  # type: ignore[no-untyped-call]
    return _count(transformer), _count(text), _count(vae)


def _count(module: Any) -> int:
    return sum(int(p.numel()) for p in module.parameters())
