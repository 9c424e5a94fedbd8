"""The fastest exact attention kernel that works here, chosen once when a generator is built.

Candidates come from diffusers' attention dispatcher (``AttentionBackendName``), fastest first for the device:
FlashAttention-3 then cuDNN SDPA on Hopper (compute capability 9.x), FlashAttention-2 and cuDNN on other
NVIDIA GPUs, native SDPA everywhere (the stock default, and the last resort). Each candidate must run on a small
input in the model's dtype and match native SDPA within that dtype's tolerance; the first that does is set on the
transformer(s). The ``*_hub`` variants download kernels at run time and are never candidates. torch is imported
inside functions only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

NATIVE = "native"
HOPPER = ("_flash_3", "_native_cudnn", "flash", NATIVE)
OTHER_CUDA = ("flash", "_native_cudnn", NATIVE)
# Largest |candidate - native| on unit-scale inputs accepted as the same attention (one bf16/fp16 rounding step
# at the output's magnitude; float32 kernels differ only in summation order).
TOLERANCE = {"float32": 1e-4, "bfloat16": 2e-2, "float16": 4e-3}


@dataclass(frozen=True)
class AttentionChoice:
    """The backend set on the model and why each faster candidate was passed over."""

    backend: str
    rejected: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        passed = "; ".join(f"{name}: {why}" for name, why in self.rejected.items())
        return self.backend + (f" (not {passed})" if passed else "")


def candidates(device: str, capability: tuple[int, int] | None) -> tuple[str, ...]:
    """Fastest first for ``device`` (``capability``: the CUDA compute capability, None off CUDA)."""
    if not device.startswith("cuda") or capability is None:
        return (NATIVE,)
    return HOPPER if capability[0] == 9 else OTHER_CUDA


def choose(names: Sequence[str], problem: Callable[[str], str | None]) -> AttentionChoice:
    """The first of ``names`` for which ``problem`` finds nothing wrong; native SDPA when none passes."""
    rejected: dict[str, str] = {}
    for name in names:
        why = problem(name)
        if why is None:
            return AttentionChoice(name, rejected)
        rejected[name] = why
    return AttentionChoice(NATIVE, rejected)


def select_attention(
    models: Sequence[Any], device: str, dtype: Any, allowed: Sequence[str] | None = None
) -> AttentionChoice:
    """Check the candidates for ``device`` (those in ``allowed``, when given) and set the winner on ``models``."""
    import torch

    capability = torch.cuda.get_device_capability(torch.device(device)) if device.startswith("cuda") else None
    names = [name for name in candidates(device, capability) if allowed is None or name in allowed]
    choice = choose(names, lambda name: kernel_problem(name, device, dtype))
    if choice.backend != NATIVE:
        for model in models:
            model.set_attention_backend(choice.backend)
    log.info("attention backend %s", choice.describe())
    return choice


@contextmanager
def attention_backend(models: Sequence[Any], name: str, restore: str) -> Iterator[None]:
    """``name`` on ``models`` for the block, ``restore`` after (the benchmark's stock run uses native SDPA)."""
    for model in models:
        model.set_attention_backend(name)
    try:
        yield
    finally:
        for model in models:
            model.set_attention_backend(restore)


def kernel_problem(name: str, device: str, dtype: Any, seed: int = 0) -> str | None:
    """Why backend ``name`` cannot stand in for native SDPA here (None: it runs and matches)."""
    import torch
    from diffusers.models.attention_dispatch import (
        AttentionBackendName,
        _check_attention_backend_requirements,
        dispatch_attention_fn,
    )

    try:
        backend = AttentionBackendName(name)
        _check_attention_backend_requirements(backend)
        generator = torch.Generator("cpu").manual_seed(seed)
        # (batch, tokens, heads, head_dim): diffusers' layout; 128 is Wan's head size.
        q, k, v = (torch.randn(2, 256, 4, 128, generator=generator).to(device, dtype) for _ in range(3))
        with torch.inference_mode():
            got = dispatch_attention_fn(q, k, v, backend=backend)
            want = dispatch_attention_fn(q, k, v, backend=AttentionBackendName.NATIVE)
        error = (got.float() - want.float()).abs().max().item()
    except Exception as exc:  # a missing package, an unsupported GPU or dtype: the reason is the message
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else 'failed'}"
    limit = TOLERANCE[str(dtype).removeprefix("torch.")]
    if not error <= limit:  # also catches NaN
        return f"differs from native SDPA by {error:.2g} (> {limit:g})"
    return None
