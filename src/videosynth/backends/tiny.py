"""A tiny random-weight Wan2.1 checkpoint in diffusers layout: the demo model and the test fixture.

It has the real architecture at toy sizes (≈ 70k parameters, ≈ 350 KB), so it exercises the real
``WanPipeline.from_pretrained`` path end to end without any download. Its videos are coloured noise.
"""

# diffusers' and transformers' constructors are unannotated; the objects built here are only saved.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import shutil
import string
import tempfile
from pathlib import Path
from typing import Any

from videosynth.settings import Settings

# The tokenizer's vocabulary comes from these, so the demo has a few words of both languages the API takes.
_TOKENIZER_CORPUS = (
    "A cat bakes a cake in a sunny kitchen.",
    "A red fox runs through fresh snow at dawn.",
    "Waves crash on a rocky beach, cinematic, slow motion.",
    "一只猫在厨房里烤蛋糕。",
    "小狐狸在雪地里奔跑，电影感，慢动作。",
    "海浪拍打着岩石海滩，阳光明媚。",
)
# In every diffusers checkpoint. Our folders appear only by an atomic rename: file present ⇒ folder complete.
_MARKER = "model_index.json"


def build_tiny_wan(out_dir: Path, seed: int = 0) -> Path:
    """Build the tiny pipeline with weights drawn from ``seed``, save it at ``out_dir`` and return that.

    The checkpoint is written into a temporary sibling folder and renamed into place, so ``out_dir`` either
    does not exist or is complete. If another builder got there first, its checkpoint is kept, ours dropped.
    """
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        _tiny_pipeline(seed).save_pretrained(tmp)
        try:
            tmp.rename(out_dir)  # atomic on one filesystem; fails if out_dir exists and is not empty
        except OSError:
            if not (out_dir / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def ensure_demo_checkpoint(settings: Settings) -> Path:
    """The demo checkpoint's folder, built first if it is not there yet."""
    folder = settings.demo_checkpoint_dir()
    if (folder / _MARKER).is_file():
        return folder
    return build_tiny_wan(folder)


def _tiny_pipeline(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanPipeline, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = _tokenizer()
    # Module constructors draw from torch's global generator: seed it, but leave the caller's RNG state as is.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = UMT5EncoderModel(
            UMT5Config(
                vocab_size=len(tokenizer),
                d_model=32,  # = the transformer's text_dim
                d_kv=8,
                d_ff=64,
                num_layers=2,
                num_heads=4,
                relative_attention_num_buckets=8,
                pad_token_id=0,
                eos_token_id=1,
            )
        )
        # Sizes from diffusers' own Wan tests; scale factors stay Wan2.1's (8× space, 4× time, 2×2 patches).
        vae = AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        )
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=1024,
        )
    # The scheduler Wan2.1 ships with.
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0, num_train_timesteps=1000
    )
    return WanPipeline(
        tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=transformer, scheduler=scheduler
    )


def _tokenizer() -> Any:
    """A SentencePiece-style Unigram tokenizer with T5's special ids (<pad>=0, </s>=1, <unk>=2).

    The vocabulary is listed, not trained: the trainer breaks score ties in a different order from run to
    run, and then two builds with one seed would tokenize (and so generate) differently.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.Unigram(_vocabulary(), unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", model_max_length=512
    )


def _vocabulary() -> list[tuple[str, float]]:
    """Whole corpus words (Viterbi prefers one piece to several) and every single character."""
    text = " ".join(_TOKENIZER_CORPUS) + string.ascii_letters + string.digits + string.punctuation
    words = sorted({"▁" + w for w in " ".join(_TOKENIZER_CORPUS).split()})
    chars = sorted(set(text.replace(" ", "")) | {"▁"})
    specials = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    return specials + [(w, -5.0) for w in words] + [(c, -10.0) for c in chars]
