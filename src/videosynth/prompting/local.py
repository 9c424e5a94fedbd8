"""Provider: a chat model loaded with transformers from a folder (e.g. a small Qwen instruct model).

transformers/torch are imported on first use, so building the extender costs nothing until it runs. The
model is loaded once (``load()``; call it at worker start to pay the cost up front) and stays resident; a
failed load is remembered and every later rewrite reports it as a provider error (fix settings, restart).

The time limit covers waiting for the model (one rewrite at a time), templating and generation, but not the
one-off load. A stopping criterion checked after every generated token enforces it, so generation ends
within one decoding step of the deadline; running out of time is a ``RewriteTimeoutError`` (partial
rewrites are discarded). Sampling runs under ``torch.random.fork_rng``, so extension leaves the worker's
global RNG state untouched.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from videosynth.prompting.base import RewriteError, RewriteTimeoutError

logger = logging.getLogger("videosynth.prompting")

# Wan's text encoder reads at most 512 of its own tokens; a longer rewrite would be cut anyway.
DEFAULT_MAX_NEW_TOKENS = 512
DEFAULT_TEMPERATURE = 0.7
DEFAULT_TOP_P = 0.9


class LocalChatRewriter:
    def __init__(
        self,
        model_dir: str | Path,
        *,
        timeout_s: float,
        device: str = "auto",
        dtype: str = "auto",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = DEFAULT_TEMPERATURE,
        top_p: float = DEFAULT_TOP_P,
    ) -> None:
        self._model_dir = str(model_dir)
        self._timeout_s = timeout_s
        self._device_setting = device
        self._dtype_setting = dtype
        self._max_new_tokens = max_new_tokens
        self._temperature = temperature
        self._top_p = top_p
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self._model: Any = None
        self._tokenizer: Any = None
        self._device: Any = None
        self._load_error: str | None = None

    @property
    def provider(self) -> str:
        return "local"

    @property
    def model(self) -> str:
        return self._model_dir

    @property
    def timeout_s(self) -> float:
        return self._timeout_s

    @property
    def max_new_tokens(self) -> int:
        return self._max_new_tokens

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> None:
        """Load tokenizer and model once; ``RewriteError`` if they cannot be loaded (now or earlier)."""
        with self._load_lock:
            if self._model is not None:
                return
            if self._load_error is None:
                try:
                    self._load()
                except Exception as error:
                    logger.exception("cannot load the prompt-extension model from %s", self._model_dir)
                    self._load_error = f"cannot load model: {type(error).__name__}"
            if self._load_error is not None:
                raise RewriteError(self._load_error)

    def _load(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if not Path(self._model_dir).is_dir():
            raise FileNotFoundError(self._model_dir)
        device_name = self._device_setting
        if device_name == "auto":
            device_name = "cuda" if torch.cuda.is_available() else "cpu"
        device = torch.device(device_name)
        if self._dtype_setting == "auto":
            dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        else:
            dtype = getattr(torch, self._dtype_setting)
        started = time.monotonic()
        tokenizer = AutoTokenizer.from_pretrained(self._model_dir, local_files_only=True)
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError(f"{self._model_dir}: the tokenizer has no chat_template")
        model: Any = AutoModelForCausalLM.from_pretrained(self._model_dir, dtype=dtype, local_files_only=True)
        model.to(device).eval()
        self._tokenizer, self._device, self._model = tokenizer, device, model
        logger.info(
            "prompt-extension model %s loaded on %s (%s) in %.1f s",
            self._model_dir, device, dtype, time.monotonic() - started,
        )  # fmt: skip

    def rewrite(self, system_prompt: str, prompt: str) -> str:
        self.load()
        deadline = time.monotonic() + self._timeout_s
        if not self._generate_lock.acquire(timeout=self._timeout_s):  # one rewrite at a time
            raise RewriteTimeoutError()
        try:
            return self._generate(system_prompt, prompt, deadline)
        finally:
            self._generate_lock.release()

    def _generate(self, system_prompt: str, prompt: str, deadline: float) -> str:
        import torch
        from transformers import StoppingCriteriaList

        messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": prompt}]
        inputs = self._tokenizer.apply_chat_template(
            messages,
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
            enable_thinking=False,  # Qwen3-style templates: answer directly; other templates ignore it
        ).to(self._device)
        stop = _deadline_criterion(deadline)
        if stop.expired():
            raise RewriteTimeoutError()
        pad_token_id = self._tokenizer.pad_token_id
        if pad_token_id is None:
            pad_token_id = self._tokenizer.eos_token_id
        devices: list[int] = []
        if self._device.type == "cuda":
            devices = [self._device.index if self._device.index is not None else torch.cuda.current_device()]
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            output = self._model.generate(
                **inputs,
                max_new_tokens=self._max_new_tokens,
                do_sample=True,
                temperature=self._temperature,
                top_p=self._top_p,
                pad_token_id=pad_token_id,
                stopping_criteria=StoppingCriteriaList([stop]),
            )
        if stop.fired:
            raise RewriteTimeoutError()
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        return str(self._tokenizer.decode(new_tokens, skip_special_tokens=True))


def _deadline_criterion(deadline: float) -> Any:
    """A transformers ``StoppingCriteria`` ending generation at ``deadline`` (monotonic); sets ``fired``."""
    import torch
    from transformers import StoppingCriteria

    # The ignore is for type checkers without transformers installed (StoppingCriteria is then Any).
    class DeadlineCriterion(StoppingCriteria):  # type: ignore[misc,unused-ignore]
        def __init__(self) -> None:
            self.fired = False

        def expired(self) -> bool:
            return time.monotonic() >= deadline

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            if self.expired():
                self.fired = True
            return torch.full((input_ids.shape[0],), self.fired, device=input_ids.device, dtype=torch.bool)

    return DeadlineCriterion()
