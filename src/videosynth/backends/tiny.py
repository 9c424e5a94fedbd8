"""Tiny random-weight Wan checkpoints in diffusers layout: the demo models and the test fixtures.

Each has a real architecture (Wan2.1, Wan2.2-TI2V, Wan2.2-A14B; see ``backends.archs``) at toy sizes (70–100k
parameters, 350–500 KB), so it exercises the real ``WanPipeline.from_pretrained`` path end to end without any
download. Their videos are coloured noise. The same builder makes full-size random-weight models for benchmarks.
"""

# diffusers' and transformers' constructors are unannotated; the objects built here are only saved.
# mypy: disable-error-code="no-untyped-call"

from __future__ import annotations

import shutil
import string
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from videosynth.backends.archs import TINY, ArchSpec
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


def build_tiny_wan(out_dir: Path, seed: int = 0, arch: str = "wan2.1") -> Path:
    """Build the tiny pipeline of ``arch`` with weights drawn from ``seed``, save it at ``out_dir`` and return that.

    The checkpoint is written into a temporary sibling folder and renamed into place, so ``out_dir`` either
    does not exist or is complete. If another builder got there first, its checkpoint is kept, ours dropped.
    """
    spec = _tiny_spec(arch)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".partial", dir=out_dir.parent))
    try:
        random_pipeline(spec, seed).save_pretrained(tmp)
        try:
            tmp.rename(out_dir)  # atomic on one filesystem; fails if out_dir exists and is not empty
        except OSError:
            if not (out_dir / _MARKER).is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def demo_checkpoint_dir(settings: Settings, arch: str = "wan2.1") -> Path:
    """Where the demo checkpoint of ``arch`` lives in the data dir (Wan2.1: ``settings.demo_checkpoint_dir()``)."""
    if arch == "wan2.1":
        return settings.demo_checkpoint_dir()
    return (settings.data_dir / "models" / f"tiny-{arch}").resolve()


def ensure_demo_checkpoint(settings: Settings, arch: str = "wan2.1") -> Path:
    """The demo checkpoint's folder, built first if it is not there yet."""
    folder = demo_checkpoint_dir(settings, arch)
    if (folder / _MARKER).is_file():
        return folder
    return build_tiny_wan(folder, arch=arch)


def random_pipeline(spec: ArchSpec, seed: int = 0, device: str | None = None, dtype: Any = None) -> Any:
    """A ``WanPipeline`` of ``spec``'s architecture with random weights, built directly on ``device``.

    ``dtype`` (a torch dtype) is that of the text encoder and transformers; the VAE stays float32, and the
    modules a model keeps in float32 when loaded (``_keep_in_fp32_modules``) stay float32 too, as
    ``from_pretrained(dtype=...)`` would leave them.
    """
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanPipeline,
        WanTransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    tokenizer = _tokenizer()
    text_config = {"vocab_size": len(tokenizer), **spec.text_encoder}
    # Module constructors draw from torch's global generator: seed it, but leave the caller's RNG state as is.
    with torch.random.fork_rng(devices=[]), torch.device(device or "cpu"):
        torch.manual_seed(seed)
        with _default_dtype(dtype):
            text_encoder = UMT5EncoderModel(UMT5Config(pad_token_id=0, eos_token_id=1, **text_config))
        vae = AutoencoderKLWan(**spec.vae)
        with _default_dtype(dtype):
            transformer = WanTransformer3DModel(**spec.transformer)
            transformer_2 = WanTransformer3DModel(**spec.transformer) if spec.two_experts else None
        image_encoder = _image_encoder(spec)  # float32, as load_pipeline loads it
    modules: list[Any] = [text_encoder, transformer, transformer_2, vae, image_encoder]
    for module in filter(None, modules):
        _keep_fp32_modules(module, dtype)
        module.eval()  # modules start in training mode (T5 dropout); from_pretrained returns them in eval
    # The scheduler Wan ships with (UniPC on flow-matching sigmas).
    scheduler = UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=spec.flow_shift, num_train_timesteps=1000
    )
    components = {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "transformer": transformer,
        "scheduler": scheduler,
        "transformer_2": transformer_2,
    }
    if not spec.i2v:
        return WanPipeline(**components, **spec.pipeline_kwargs())
    processor = _image_processor(spec) if image_encoder is not None else None
    return WanImageToVideoPipeline(
        **components, image_encoder=image_encoder, image_processor=processor, **spec.pipeline_kwargs()
    )


def _image_encoder(spec: ArchSpec) -> Any:
    """Wan2.1-I2V's CLIP vision tower (its image features steer every block's cross-attention); None without."""
    if spec.image_encoder is None:
        return None
    from transformers import CLIPVisionConfig, CLIPVisionModel

    return CLIPVisionModel(CLIPVisionConfig(**spec.image_encoder))


def _image_processor(spec: ArchSpec) -> Any:
    from transformers import CLIPImageProcessor

    size = spec.image_size
    return CLIPImageProcessor(crop_size={"height": size, "width": size}, size={"shortest_edge": size})


def _tiny_spec(arch: str) -> ArchSpec:
    if arch not in TINY:
        raise ValueError(f"arch must be one of {', '.join(TINY)}, got {arch!r}")
    return TINY[arch]


@contextmanager
def _default_dtype(dtype: Any) -> Iterator[None]:
    """Build parameters directly in ``dtype``: a 14B model built in float32 first would need twice the memory."""
    import torch

    if dtype is None:
        yield
        return
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


def _keep_fp32_modules(model: Any, dtype: Any) -> None:
    """Cast back to float32 what ``from_pretrained(dtype=...)`` would have kept in float32."""
    import torch

    if dtype in (None, torch.float32):
        return
    keep = set(getattr(model, "_keep_in_fp32_modules_strict", None) or ())
    # diffusers keeps its list in any reduced precision; transformers its non-strict list only in float16.
    if not hasattr(model, "_keep_in_fp32_modules_strict") or dtype == torch.float16:
        keep |= set(getattr(model, "_keep_in_fp32_modules", None) or ())
    for name, param in model.named_parameters():
        if keep.intersection(name.split(".")):
            param.data = param.data.float()


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
