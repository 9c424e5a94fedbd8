"""``torch.compile`` of the Wan transformer(s), opt-in per registry entry (``compile = true``).

Regional compilation (diffusers' ``compile_repeated_blocks``): each ``WanTransformerBlock`` is compiled once and
the graph reused by all 30–40 blocks, so compiling costs one block's time rather than the model's, and the
pipeline's own Python (guidance pairing, step-cache hooks, scheduler) stays eager around it. ``dynamic=False``:
one graph per input shape, i.e. per (model, size, frames) bucket; the generator warms each native size up at load
so the first request of a bucket does not pay for it. torch is imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Each (size, frames) bucket is one graph; more than this many and dynamo falls back to eager for new shapes.
MAX_BUCKETS = 16


def compile_blocks(models: Sequence[Any]) -> None:
    import torch

    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, MAX_BUCKETS)
    for model in models:
        model.compile_repeated_blocks(fullgraph=True, dynamic=False)
