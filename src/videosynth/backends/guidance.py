"""Classifier-free guidance in one transformer forward (batch 2) instead of two, under diffusers' own step loop.

Stock Wan pipelines call the transformer twice per step with the same latents and timestep: with the prompt's
embeddings ("cond") and then with the negative prompt's ("uncond"). Two batch-1 forwards leave a large GPU
half idle at these sizes and pay every weight read twice; one batch-2 forward does the same arithmetic at once.
The pipeline's loop, scheduler and callbacks stay untouched: while :func:`batched_guidance` is active, the "cond"
call runs both halves and returns the conditional one, and the "uncond" call that follows returns the
unconditional half already computed. Anything else (an unknown call order, no negative prompt) runs as stock.
torch is imported inside functions only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Pairing:
    """One transformer's batched forward: the embeddings of both halves and the half waiting to be returned."""

    forward: Callable[..., Any]  # the module's forward as it was (diffusers' cache hooks included)
    cond: Any
    uncond: Any
    pending: Any = field(default=None, repr=False)  # (hidden_states, uncond output) from the last cond call
    batched_calls: int = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        states = kwargs.get("encoder_hidden_states")
        if args or states is None:
            return self.forward(*args, **kwargs)
        if states is self.cond:
            return self._both(kwargs)
        if states is self.uncond and self.pending is not None and self.pending[0] is kwargs.get("hidden_states"):
            output, self.pending = self.pending[1], None
            return output
        return self.forward(**kwargs)

    def _both(self, kwargs: dict[str, Any]) -> Any:
        import torch

        batch = kwargs["hidden_states"].shape[0]
        doubled = {key: _doubled(key, value, batch) for key, value in kwargs.items()}
        doubled["encoder_hidden_states"] = torch.cat([self.cond, self.uncond])
        output = self.forward(**doubled)
        self.batched_calls += 1
        cond, uncond = _split(output, batch)
        self.pending = (kwargs["hidden_states"], uncond)
        return cond


_PER_SAMPLE = ("hidden_states", "timestep", "encoder_hidden_states_image")


def _doubled(key: str, value: Any, batch: int) -> Any:
    """The same per-sample input for both halves (latents, timesteps, image tokens: identical in both calls)."""
    import torch

    if key in _PER_SAMPLE and isinstance(value, torch.Tensor) and value.ndim and value.shape[0] == batch:
        return torch.cat([value, value])
    return value


def _split(output: Any, batch: int) -> tuple[Any, Any]:
    """The conditional and unconditional halves of the transformer's (tuple or dataclass) output."""
    if isinstance(output, tuple):
        halves = [(tensor[:batch], tensor[batch:]) for tensor in output]
        return tuple(h[0] for h in halves), tuple(h[1] for h in halves)
    sample = output.sample
    return type(output)(sample=sample[:batch]), type(output)(sample=sample[batch:])


@contextmanager
def batched_guidance(pipe: Any, cond: Any, uncond: Any) -> Iterator[list[_Pairing]]:
    """Batch the guidance passes of every transformer of ``pipe`` (Wan2.2-A14B has two) while the block runs.

    ``cond`` and ``uncond`` are the exact tensors handed to the pipeline as ``prompt_embeds`` and
    ``negative_prompt_embeds`` (already in the transformer's dtype, so the pipeline passes them on unchanged):
    the calls are told apart by identity.
    """
    pairings = []
    with ExitStack() as restore:
        for name in ("transformer", "transformer_2"):
            module = getattr(pipe, name, None)
            if module is None:
                continue
            pairing = _Pairing(module.forward, cond, uncond)
            # An instance attribute: nn.Module.__call__ looks ``forward`` up on the instance first.
            had_own = "forward" in vars(module)
            module.forward = pairing
            restore.callback(_restore, module, pairing.forward, had_own)
            pairings.append(pairing)
        yield pairings


def _restore(module: Any, forward: Callable[..., Any], had_own: bool) -> None:
    if had_own:
        module.forward = forward
    else:
        del module.forward
