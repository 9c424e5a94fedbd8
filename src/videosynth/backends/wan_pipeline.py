"""Loading a diffusers ``WanPipeline`` and fitting it to a registry entry: device, dtype, memory mode, scheduler.

torch and diffusers are imported inside functions only, so importing this module costs nothing.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

from videosynth.backends.base import Capabilities
from videosynth.backends.vae import configure_vae
from videosynth.registry import I2V_ARCHS, IMAGE_ARCHS, WanEntry

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

_DTYPES = ("float32", "bfloat16", "float16")


def resolve_device(device: str) -> str:
    """'auto' → 'cuda' when a GPU is visible, else 'cpu'; anything else goes to torch as is."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """'auto' → bfloat16 on a GPU (what Wan is trained in), float32 on CPU (bf16 saves little there)."""
    import torch

    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") else "float32"
    if dtype not in _DTYPES:
        raise ValueError(f"dtype must be auto or one of {', '.join(_DTYPES)}, got {dtype!r}")
    result: torch.dtype = getattr(torch, dtype)
    return result


def load_pipeline(model: str, dtype: torch.dtype, arch: str = "wan2.1") -> Any:
    """``WanPipeline.from_pretrained`` (``WanImageToVideoPipeline`` for an image-to-video ``arch``; a folder, or
    a hub id in the local cache), still on the CPU."""
    import torch
    from diffusers import WanImageToVideoPipeline, WanPipeline

    pipeline_class = WanImageToVideoPipeline if arch in I2V_ARCHS else WanPipeline
    # Wan's VAE loses quality in half precision (upstream and diffusers' examples keep it float32), and it is
    # a small share of the weights. The pipeline casts latents to the VAE's dtype before decoding. The CLIP
    # image encoder (Wan2.1-I2V) stays float32 too, as diffusers' Wan I2V example loads it.
    pipe = pipeline_class.from_pretrained(  # type: ignore[no-untyped-call]
        model, dtype={"default": dtype, "vae": torch.float32, "image_encoder": torch.float32}
    )
    pipe.set_progress_bar_config(disable=True)  # progress is reported through on_step, not stderr
    return pipe


def transformers(pipe: Any) -> list[Any]:
    """The pipeline's denoising transformer(s): one, or Wan2.2-A14B's two experts (high noise first)."""
    return [m for m in (pipe.transformer, getattr(pipe, "transformer_2", None)) if m is not None]


def checkpoint_arch(pipe: Any) -> str:
    """What the loaded pipeline is, from its components and config (not from what the registry claims)."""
    model = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    # An image-to-video transformer reads 36 channels: noise, the first-frame mask and the first frame's latents.
    i2v = model.config.in_channels != model.config.out_channels and not pipe.config.get("expand_timesteps")
    if i2v:
        return "wan2.2-i2v-a14b" if getattr(pipe, "transformer_2", None) is not None else "wan2.1-i2v"
    if getattr(pipe, "transformer_2", None) is not None:
        return "wan2.2-a14b"
    if pipe.config.get("expand_timesteps"):
        return "wan2.2-ti2v"
    return "wan2.1"


def fit_to_entry(pipe: Any, entry: WanEntry) -> None:
    """Check the checkpoint is what the entry says and apply the entry's pipeline-level settings."""
    found = checkpoint_arch(pipe)
    if found != entry.arch:
        raise ValueError(
            f"model {entry.name!r} says arch {entry.arch!r} but its checkpoint {entry.checkpoint!r} is {found!r} "
            "(Wan2.2-A14B has transformer_2, Wan2.2-TI2V has expand_timesteps, an I2V model 36 input channels); "
            "fix `arch` in the registry"
        )
    if entry.boundary_ratio is not None:
        pipe.register_to_config(boundary_ratio=entry.boundary_ratio)
    if entry.flow_shift is not None or entry.flow_shift_by_size:
        _shift_key(pipe.scheduler, entry)  # fail at load, not at the first request


def place(pipe: Any, device: str, entry: WanEntry) -> None:
    """Put the pipeline on ``device`` in the entry's memory mode (design.md §7: keep everything resident by default)."""
    if entry.vae_tiling:
        pipe.vae.enable_tiling()
    configure_vae(pipe.vae, entry.vae_dtype, entry.vae_channels_last)
    if entry.memory == "gpu" or device == "cpu":
        if entry.memory != "gpu":
            log.warning("memory mode needs an accelerator; keeping the model on the CPU", extra={"model": entry.name})
        pipe.to(device)
    elif entry.memory == "model_offload":
        # Each component moves to the GPU when it runs and back after: one of them resident at a time.
        pipe.enable_model_cpu_offload(device=device)
    else:
        # Layer by layer: the least GPU memory, but every forward streams its weights over PCIe.
        pipe.enable_sequential_cpu_offload(device=device)


def capabilities(pipe: Any, entry: WanEntry) -> Capabilities:
    """The entry's limits, checked against what the checkpoint's latent grid allows."""
    model = pipe.transformer if pipe.transformer is not None else pipe.transformer_2
    _, patch_h, patch_w = model.config.patch_size
    # A latent cell spans vae_scale_factor_spatial pixels, a token spans a patch of cells: 8 × 2 = 16 (Wan2.1),
    # 16 × 2 = 32 (Wan2.2-TI2V's VAE).
    grid = pipe.vae_scale_factor_spatial * math.lcm(patch_h, patch_w)
    frames = pipe.vae_scale_factor_temporal
    if entry.spatial_multiple % grid or entry.temporal_factor % frames:
        raise ValueError(
            f"model {entry.name!r}: spatial_multiple {entry.spatial_multiple} / temporal_factor "
            f"{entry.temporal_factor} do not fit its checkpoint (multiples of {grid} / {frames} needed)"
        )
    return Capabilities(
        fps=entry.fps,
        spatial_multiple=entry.spatial_multiple,
        temporal_factor=entry.temporal_factor,
        max_pixels=entry.pixel_cap,
        takes_images=entry.arch in IMAGE_ARCHS,
    )


def scheduler_with_shift(scheduler: Any, entry: WanEntry, shift: float) -> Any:
    """A copy of ``scheduler`` with another flow shift (UniPC calls it flow_shift, FlowMatchEuler shift)."""
    return type(scheduler).from_config(scheduler.config, **{_shift_key(scheduler, entry): shift})


def _shift_key(scheduler: Any, entry: WanEntry) -> str:
    for key in ("flow_shift", "shift"):
        if key in scheduler.config:
            return key
    raise ValueError(f"model {entry.name!r} sets a flow shift but its {type(scheduler).__name__} has none")
