"""FP8 weight storage, opt-in per registry entry (``fp8_weights``; not exact).

The transformers' weights are kept in float8_e4m3fn and cast up to the compute dtype layer by layer as each layer
runs (diffusers' layerwise casting; norms, embeddings and the output projection stay as they were). It halves the
memory bf16 weights take, so a larger model or a longer clip fits one GPU; the arithmetic is still bf16, so it is
a memory knob, not FP8 GEMMs (those need FP8 tensor cores and their kernels: pending a GPU). The benchmark's
"videosynth FP8 weights" row measures its speed and its quality against the exact path. torch is imported inside
functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def store_weights_in_fp8(models: Sequence[Any]) -> None:
    """Convert every transformer of ``models`` in place: there is no way back to the original weights."""
    import torch

    for model in models:
        model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=model.dtype)
