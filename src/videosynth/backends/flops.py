"""Analytic FLOP count of one ``WanTransformer3DModel`` forward (design.md §7: report work as a share of the ceiling).

Counts the matrix multiplications (2 FLOPs per multiply-add) and attention, which is what
``torch.utils.flop_counter`` counts too; elementwise work (norms, RoPE, modulation) is left out. Pure arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FlopBreakdown:
    self_attention: int  # QKᵀ and AV over the video tokens
    cross_attention: int  # QKᵀ and AV against the text tokens
    projections: int  # Q/K/V/O of both attentions
    mlp: int
    embeddings: int  # patch embedding, text and time embedders, output projection

    @property
    def total(self) -> int:
        return self.self_attention + self.cross_attention + self.projections + self.mlp + self.embeddings


def video_tokens(config: Mapping[str, Any], latent_frames: int, latent_height: int, latent_width: int) -> int:
    p_t, p_h, p_w = (int(p) for p in config["patch_size"])
    return (latent_frames // p_t) * (latent_height // p_h) * (latent_width // p_w)


def transformer_flops(
    config: Mapping[str, Any],
    latent_frames: int,
    latent_height: int,
    latent_width: int,
    text_tokens: int,
    per_token_timesteps: bool = False,
) -> FlopBreakdown:
    """FLOPs of one forward at batch 1 (classifier-free guidance runs two per step).

    ``config`` is the transformer's config (``WanTransformer3DModel`` arguments). ``per_token_timesteps``:
    Wan2.2-TI2V (``expand_timesteps``) embeds a timestep per video token instead of one per sample.
    """
    d = config["num_attention_heads"] * config["attention_head_dim"]
    f, layers = config["ffn_dim"], config["num_layers"]
    n = video_tokens(config, latent_frames, latent_height, latent_width)
    t = text_tokens
    patch = config["patch_size"][0] * config["patch_size"][1] * config["patch_size"][2]

    # Per block: self-attention Q,K,V,O (4 d×d on n tokens); cross-attention Q,O on n tokens and K,V on the
    # t text tokens (already projected to d by the text embedder); scores and weighted sum, 2·n·m·d each.
    projections = 2 * (4 * n * d * d + 2 * n * d * d + 2 * t * d * d)
    self_attention = 2 * 2 * n * n * d
    cross_attention = 2 * 2 * n * t * d
    mlp = 2 * 2 * n * d * f  # up d→f, down f→d (GELU, not gated)

    timestep_rows = n if per_token_timesteps else 1
    embeddings = (
        2 * n * config["in_channels"] * patch * d  # patch embedding (a strided conv = one matmul per token)
        + 2 * t * (config["text_dim"] * d + d * d)  # text embedder: text_dim→d, d→d
        + 2 * timestep_rows * (config["freq_dim"] * d + d * d + d * 6 * d)  # time embedder + 6-way modulation
        + 2 * n * d * config["out_channels"] * patch  # output projection
    )
    return FlopBreakdown(
        self_attention=layers * self_attention,
        cross_attention=layers * cross_attention,
        projections=layers * projections,
        mlp=layers * mlp,
        embeddings=embeddings,
    )
