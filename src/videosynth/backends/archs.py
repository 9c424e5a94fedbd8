"""Component configurations of the Wan architectures, at toy size (tests, demo) and at full size (benchmarks).

Pure data: the keyword arguments of diffusers' ``WanTransformer3DModel`` and ``AutoencoderKLWan`` and of
transformers' ``UMT5Config``. ``backends.tiny`` builds random-weight pipelines from them.

Full sizes are those of the published checkpoints (their ``transformer/config.json``, ``vae/config.json`` and
google/umt5-xxl), so a random-weight build does exactly the real model's arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ArchSpec:
    arch: str  # a registry Arch: wan2.1 | wan2.2-ti2v | wan2.2-a14b
    transformer: Mapping[str, Any]
    vae: Mapping[str, Any]
    text_encoder: Mapping[str, Any]  # UMT5Config kwargs; vocab_size absent → the tokenizer's size
    flow_shift: float  # the scheduler saved with the checkpoint
    two_experts: bool = False  # Wan2.2-A14B: `transformer` (high noise) and `transformer_2` (low noise)
    boundary_ratio: float | None = None
    expand_timesteps: bool = False  # Wan2.2-TI2V: one timestep per latent token
    # Image-to-video (WanImageToVideoPipeline): the transformer also reads the VAE-encoded first frame and mask
    # (36 input channels); Wan2.1's also cross-attends to CLIP image features (``image_encoder``).
    i2v: bool = False
    image_encoder: Mapping[str, Any] | None = None  # CLIPVisionConfig kwargs
    image_size: int = 224  # the CLIP image processor's input size

    def pipeline_kwargs(self) -> dict[str, Any]:
        """``WanPipeline`` config arguments beyond the components."""
        return {"boundary_ratio": self.boundary_ratio, "expand_timesteps": self.expand_timesteps}


def _i2v(transformer: Mapping[str, Any], image_dim: int | None = None) -> dict[str, Any]:
    """An image-to-video transformer: 16 noise + 4 mask + 16 first-frame latent channels in; with ``image_dim``,
    cross-attention to image features (projected with ``added_kv_proj_dim`` = the model width, as Wan2.1's)."""
    extra: dict[str, Any] = {"in_channels": 36}
    if image_dim is not None:
        width = transformer["num_attention_heads"] * transformer["attention_head_dim"]
        extra |= {"image_dim": image_dim, "added_kv_proj_dim": width}
    return {**transformer, **extra}


def _transformer(heads: int, head_dim: int, ffn: int, layers: int, text_dim: int, channels: int) -> dict[str, Any]:
    return {
        "patch_size": (1, 2, 2),
        "num_attention_heads": heads,
        "attention_head_dim": head_dim,
        "in_channels": channels,
        "out_channels": channels,
        "text_dim": text_dim,
        "freq_dim": 256,
        "ffn_dim": ffn,
        "num_layers": layers,
        "cross_attn_norm": True,
        "qk_norm": "rms_norm_across_heads",
        "eps": 1e-6,
        "rope_max_seq_len": 1024,
    }


# ---- toy sizes: diffusers' own tests/pipelines/wan/test_wan.py and test_wan_22.py, with a local text encoder -----

_TINY_TEXT = {
    "d_model": 32,  # = the transformer's text_dim
    "d_kv": 8,
    "d_ff": 64,
    "num_layers": 2,
    "num_heads": 4,
    "relative_attention_num_buckets": 8,
}
_TINY_VAE_21 = {
    "base_dim": 3,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
    "temperal_downsample": [False, True, True],
}
# The Wan2.2 VAE: 48 latent channels, a 2×2 pixel patchify in front (12 = 3 × 2 × 2 input channels) and residual
# blocks, so it compresses 16× in space instead of 8×.
_TINY_VAE_22 = {
    **_TINY_VAE_21,
    "z_dim": 48,
    "in_channels": 12,
    "out_channels": 12,
    "is_residual": True,
    "patch_size": 2,
    "latents_mean": [0.0] * 48,
    "latents_std": [1.0] * 48,
    "scale_factor_spatial": 16,
    "scale_factor_temporal": 4,
}

TINY: dict[str, ArchSpec] = {
    "wan2.1": ArchSpec("wan2.1", _transformer(2, 12, 32, 2, 32, 16), _TINY_VAE_21, _TINY_TEXT, flow_shift=3.0),
    "wan2.2-ti2v": ArchSpec(
        "wan2.2-ti2v",
        _transformer(2, 12, 32, 2, 32, 48),
        _TINY_VAE_22,
        _TINY_TEXT,
        flow_shift=5.0,
        expand_timesteps=True,
    ),
    # Shift 3.0 (not the real model's 12.0) so that even a 2-step test run crosses the 0.875 boundary and
    # exercises both experts; the registry entry sets the shift it generates with.
    "wan2.2-a14b": ArchSpec(
        "wan2.2-a14b",
        _transformer(2, 12, 32, 2, 32, 16),
        _TINY_VAE_21,
        _TINY_TEXT,
        flow_shift=3.0,
        two_experts=True,
        boundary_ratio=0.875,
    ),
}

# diffusers' tests/pipelines/wan/test_wan_image_to_video.py: a 4-wide CLIP vision tower on 32-pixel inputs.
_TINY_CLIP = {
    "hidden_size": 4,
    "projection_dim": 4,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "image_size": 32,
    "intermediate_size": 16,
    "patch_size": 1,
}
TINY["wan2.1-i2v"] = ArchSpec(
    "wan2.1-i2v",
    _i2v(_transformer(2, 12, 32, 2, 32, 16), image_dim=4),
    _TINY_VAE_21,
    _TINY_TEXT,
    flow_shift=3.0,
    i2v=True,
    image_encoder=_TINY_CLIP,
    image_size=32,
)
TINY["wan2.2-i2v-a14b"] = ArchSpec(
    "wan2.2-i2v-a14b",
    _i2v(_transformer(2, 12, 32, 2, 32, 16)),
    _TINY_VAE_21,
    _TINY_TEXT,
    flow_shift=3.0,
    two_experts=True,
    boundary_ratio=0.9,
    i2v=True,
)

# ---- full sizes -----------------------------------------------------------------------------------------------

# google/umt5-xxl's encoder (the Wan text encoder for every size): 24 layers, d_model 4096, gated GELU.
_UMT5_XXL = {
    "vocab_size": 256_384,
    "d_model": 4096,
    "d_kv": 64,
    "d_ff": 10_240,
    "num_layers": 24,
    "num_heads": 64,
    "relative_attention_num_buckets": 32,
    "relative_attention_max_distance": 128,
    "feed_forward_proj": "gated-gelu",
}
_VAE_21: dict[str, Any] = {}  # AutoencoderKLWan's defaults are the Wan2.1 VAE (base_dim 96, z_dim 16)
# Wan-AI/Wan2.2-TI2V-5B-Diffusers vae/config.json (latent statistics left neutral: they do not change the work).
_VAE_22 = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "in_channels": 12,
    "out_channels": 12,
    "is_residual": True,
    "patch_size": 2,
    "latents_mean": [0.0] * 48,
    "latents_std": [1.0] * 48,
    "scale_factor_spatial": 16,
    "scale_factor_temporal": 4,
}
_T_1_3B = _transformer(12, 128, 8960, 30, 4096, 16)
_T_14B = _transformer(40, 128, 13_824, 40, 4096, 16)
_T_5B = _transformer(24, 128, 14_336, 30, 4096, 48)

# open-clip xlm-roberta-large-vit-huge-14's vision tower (Wan2.1-I2V's image_encoder/config.json).
_CLIP_VIT_H = {
    "hidden_size": 1280,
    "projection_dim": 1024,
    "num_hidden_layers": 32,
    "num_attention_heads": 16,
    "image_size": 224,
    "intermediate_size": 5120,
    "patch_size": 14,
    "hidden_act": "gelu",
}

_I2V_14B = _i2v(_T_14B, image_dim=1280)

# Keyed by the registry entry names of the shipped registry.toml.
FULL: dict[str, ArchSpec] = {
    "wan2.1-t2v-1.3b": ArchSpec("wan2.1", _T_1_3B, _VAE_21, _UMT5_XXL, flow_shift=3.0),
    "wan2.1-t2v-14b": ArchSpec("wan2.1", _T_14B, _VAE_21, _UMT5_XXL, flow_shift=3.0),
    "wan2.2-ti2v-5b": ArchSpec("wan2.2-ti2v", _T_5B, _VAE_22, _UMT5_XXL, flow_shift=5.0, expand_timesteps=True),
    "wan2.2-t2v-a14b": ArchSpec(
        "wan2.2-a14b", _T_14B, _VAE_21, _UMT5_XXL, flow_shift=12.0, two_experts=True, boundary_ratio=0.875
    ),
    "wan2.1-i2v-14b-480p": ArchSpec(
        "wan2.1-i2v", _I2V_14B, _VAE_21, _UMT5_XXL, flow_shift=3.0, i2v=True, image_encoder=_CLIP_VIT_H
    ),
    "wan2.1-i2v-14b-720p": ArchSpec(
        "wan2.1-i2v", _I2V_14B, _VAE_21, _UMT5_XXL, flow_shift=5.0, i2v=True, image_encoder=_CLIP_VIT_H
    ),
    "wan2.2-i2v-a14b": ArchSpec(
        "wan2.2-i2v-a14b", _i2v(_T_14B), _VAE_21, _UMT5_XXL, 5.0, two_experts=True, boundary_ratio=0.9, i2v=True
    ),
}
