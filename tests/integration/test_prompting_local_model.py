"""The local provider with a tiny random-weight chat model built here, loaded through the real transformers
``AutoTokenizer.from_pretrained`` / ``AutoModelForCausalLM.from_pretrained`` path.

The model is a 2-layer Qwen2 with a byte-level BPE tokenizer trained on the system prompts and a ChatML
``chat_template``. Its answers are gibberish: the tests assert on what the provider controls (template input,
token and time bounds, residency, fallbacks), and accept either a rewrite or a documented fallback reason.
The model has no EOS id, so it always generates until ``max_new_tokens`` or the deadline: no flaky early stops.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from videosynth.prompting.cache import LruCache
from videosynth.prompting.extender import RewritingExtender
from videosynth.prompting.factory import build_extender, describe, preload
from videosynth.prompting.local import LocalChatRewriter
from videosynth.prompting.system_prompts import SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH
from videosynth.settings import Settings

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CHATML = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# What a rewrite may end as with a gibberish model (check.py / extender.py document each).
GIBBERISH_REASONS = {"empty answer", "too long", "refusal", "echo of instructions", "unchanged"}


def build_tiny_chat_model(folder: Path) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH, "a cat playing piano 一只猫在弹钢琴"], trainer)
    tokenizer: Any = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call,unused-ignore]
        tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(folder)

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        eos_token_id=None,  # never stops early: generation runs to max_new_tokens or the deadline
    )
    Qwen2ForCausalLM(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"))


class Spy:
    """Records what reached the tokenizer's chat template and how many tokens ``generate`` produced."""

    def __init__(self, rewriter: LocalChatRewriter, monkeypatch: pytest.MonkeyPatch) -> None:
        rewriter.load()
        self.messages: list[list[dict[str, str]]] = []
        self.new_tokens: list[int] = []
        tokenizer, model = rewriter._tokenizer, rewriter._model
        apply, generate = tokenizer.apply_chat_template, model.generate

        def spy_apply(messages: list[dict[str, str]], **kwargs: Any) -> Any:
            self.messages.append(messages)
            return apply(messages, **kwargs)

        def spy_generate(**kwargs: Any) -> Any:
            output = generate(**kwargs)
            self.new_tokens.append(output.shape[1] - kwargs["input_ids"].shape[1])
            return output

        monkeypatch.setattr(tokenizer, "apply_chat_template", spy_apply)
        monkeypatch.setattr(model, "generate", spy_generate)


def test_rewrite_goes_through_from_pretrained_and_respects_max_new_tokens(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    real_from_pretrained = transformers.AutoModelForCausalLM.from_pretrained

    def counting_from_pretrained(path: str, **kwargs: Any) -> Any:
        loads.append(path)
        return real_from_pretrained(path, **kwargs)

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", counting_from_pretrained)
    rewriter = LocalChatRewriter(model_dir, timeout_s=30, device="cpu", max_new_tokens=12)
    assert not rewriter.loaded
    spy = Spy(rewriter, monkeypatch)
    assert type(rewriter._model).__name__ == "Qwen2ForCausalLM"
    extender = RewritingExtender(rewriter, cache=LruCache())

    first = extender.extend("a cat playing piano")
    second = extender.extend("a dog playing piano")

    assert loads == [str(model_dir)]  # loaded once, kept resident
    assert spy.new_tokens == [12, 12]
    assert spy.messages[0] == [
        {"role": "system", "content": SYSTEM_PROMPT_EN},
        {"role": "user", "content": "a cat playing piano"},
    ]
    for outcome, prompt in ((first, "a cat playing piano"), (second, "a dog playing piano")):
        assert (outcome.provider, outcome.model, outcome.language) == ("local", str(model_dir), "en")
        if outcome.status == "extended":
            assert outcome.actual_prompt and outcome.prompt == outcome.actual_prompt
        else:
            assert outcome.status == "fallback" and outcome.reason in GIBBERISH_REASONS
            assert outcome.prompt == prompt and outcome.actual_prompt is None


def test_chinese_prompt_gets_the_chinese_system_prompt(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rewriter = LocalChatRewriter(model_dir, timeout_s=30, device="cpu", max_new_tokens=4)
    spy = Spy(rewriter, monkeypatch)

    outcome = RewritingExtender(rewriter).extend("一只猫在弹钢琴")

    assert outcome.language == "zh"
    assert spy.messages == [
        [{"role": "system", "content": SYSTEM_PROMPT_ZH}, {"role": "user", "content": "一只猫在弹钢琴"}]
    ]
    assert spy.new_tokens == [4]


def test_successful_rewrite_is_cached(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rewriter = LocalChatRewriter(model_dir, timeout_s=30, device="cpu", max_new_tokens=4)
    spy = Spy(rewriter, monkeypatch)
    extender = RewritingExtender(rewriter, cache=LruCache())
    # Random weights may produce an unusable answer; make this one usable so the cache path is exercised.
    monkeypatch.setattr(rewriter._tokenizer, "decode", lambda *a, **k: "A ginger cat plays a grand piano.")

    first = extender.extend("a cat playing piano")
    second = extender.extend("a cat playing piano")

    assert first.status == second.status == "extended"
    assert (first.cached, second.cached) == (False, True)
    assert len(spy.new_tokens) == 1


def test_factory_path_times_out_within_the_deadline(model_dir: Path, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        prompt_extend_provider="local",
        prompt_extend_model=str(model_dir),
        prompt_extend_timeout_s=0.3,
        device="cpu",
    )
    extender = build_extender(settings)
    assert isinstance(extender, RewritingExtender)
    rewriter = extender.rewriter
    assert isinstance(rewriter, LocalChatRewriter)
    assert rewriter.max_new_tokens == 512  # far more than fits in 0.3 s on CPU
    assert not rewriter.loaded
    preload(extender)  # the worker's warm-up: the load itself is not part of the time limit
    assert rewriter.loaded

    started = time.monotonic()
    outcome = extender.extend("a cat playing piano")
    took = time.monotonic() - started

    assert outcome.status == "fallback"
    assert outcome.reason == "timeout after 0.3 s"
    assert outcome.prompt == "a cat playing piano" and outcome.actual_prompt is None
    assert took < 2.0
    assert describe(settings) == f"prompt extension: local model {model_dir}, timeout 0.3 s"


def test_missing_folder_is_a_remembered_provider_error(tmp_path: Path) -> None:
    rewriter = LocalChatRewriter(tmp_path / "nope", timeout_s=5, device="cpu")
    extender = RewritingExtender(rewriter)

    first = extender.extend("a cat")
    second = extender.extend("a cat")

    assert first.status == second.status == "fallback"
    assert first.reason == second.reason == "provider error: cannot load model: FileNotFoundError"
    assert not rewriter.loaded


def test_tokenizer_without_chat_template_is_refused(model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "no-template"
    folder.mkdir()
    for item in model_dir.iterdir():
        if item.name != "chat_template.jinja":
            (folder / item.name).write_bytes(item.read_bytes())
    config = folder / "tokenizer_config.json"
    config.write_text(config.read_text().replace('"chat_template"', '"unused_chat_template"'))

    outcome = RewritingExtender(LocalChatRewriter(folder, timeout_s=5, device="cpu")).extend("a cat")

    assert outcome.status == "fallback"
    assert outcome.reason == "provider error: cannot load model: ValueError"
