"""VAE decode speed-ups, opt-in per registry entry: a bfloat16 VAE and the channels_last_3d memory layout.

Wan's VAE decode is a stack of 3-D convolutions over the whole video; in float32 it is a large share of a short
generation's time on a GPU. bf16 halves its memory traffic and runs on tensor cores, at the cost of a few levels
of rounding in the frames (the benchmark reports PSNR/SSIM against the float32 decode, and a variant under
``bench.quality``'s gate is not offered); channels_last_3d lets cuDNN pick its NDHWC kernels (the same arithmetic
in another order). Tiling stays what it was (``vae_tiling``): only where memory requires it. torch is imported
inside functions only.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

EXACT_VAE_DTYPE = "float32"  # the VAE dtype of diffusers' Wan examples, and of the exact path


def configure_vae(vae: Any, dtype: str, channels_last: bool) -> None:
    """Put ``vae`` in ``dtype`` ("float32", "bfloat16", "float16") and, if asked, the channels_last_3d layout."""
    import torch

    if dtype != EXACT_VAE_DTYPE:
        vae.to(dtype=getattr(torch, dtype))
    if channels_last:
        # Module by module: the VAE also holds 2-D convolutions, whose 4-D weights have no 3-D layout.
        for module in vae.modules():
            if isinstance(module, torch.nn.Conv3d):
                module.to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]


@contextmanager
def vae_variant(pipe: Any, dtype: str, channels_last: bool) -> Iterator[Any]:
    """A copy of ``pipe``'s VAE configured so, in the pipeline while the block runs (the benchmark's comparison
    against the float32 decode; converting the shared VAE back would not restore its float32 weights)."""
    original = pipe.vae
    variant = copy.deepcopy(original)
    configure_vae(variant, dtype, channels_last)
    pipe.vae = variant
    try:
        yield variant
    finally:
        pipe.vae = original
