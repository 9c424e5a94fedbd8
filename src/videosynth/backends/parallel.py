"""One video across several GPUs: diffusers' context parallelism (Ulysses attention) on the Wan transformer(s).

Every rank of a ``torch.distributed`` group (one process per GPU, started by the launcher with the same job)
builds the same pipeline and calls it with the same seed; ``enable_parallelism`` splits each forward's token
sequence across the ranks and exchanges heads with all-to-all around attention, so every rank ends with the
full, identical latents. Ulysses needs the head count divisible by the degree (Wan: 12, 24, 40 heads). Ring
attention needs a kernel that returns log-sum-exp (FlashAttention or cuDNN; native SDPA does not), so it is not
offered here. torch and diffusers are imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Kernels diffusers' context parallelism accepts (AttentionBackendName, supports_context_parallel=True), fastest
# first; FlashAttention-3 is not among them in diffusers 0.42.
PARALLEL_SAFE = ("flash", "_native_cudnn", "native")


def enable_context_parallel(models: Sequence[Any], ulysses_degree: int) -> None:
    """Split every transformer of ``models`` ``ulysses_degree`` ways over the default process group."""
    import torch.distributed as dist
    from diffusers import ContextParallelConfig

    if not dist.is_initialized() or dist.get_world_size() % ulysses_degree:
        world = dist.get_world_size() if dist.is_initialized() else 1
        raise ValueError(
            f"ulysses_degree {ulysses_degree} needs a torch.distributed group whose size it divides "
            f"(one process per GPU, e.g. torchrun --nproc-per-node {ulysses_degree}); this one has {world}"
        )
    for model in models:
        heads = model.config.num_attention_heads
        if heads % ulysses_degree:
            raise ValueError(f"ulysses_degree {ulysses_degree} must divide the model's {heads} attention heads")
        model.enable_parallelism(config=ContextParallelConfig(ulysses_degree=ulysses_degree))  # type: ignore[no-untyped-call]
