"""A task's reproducibility record: everything it takes to make the same video again.

Stored with the task (shown in its detail as ``output.reproducibility``) and as a JSON sidecar next to the video.
A rerun with the record's model, seed, parameters and the prompt the model was given (``model_prompt``, with
prompt extension off) on the same checkpoint, versions and device gives the same frames: the same
``output.frames_sha256``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from videosynth.domain.catalog import PUBLIC_MODELS, Protocol
from videosynth.domain.plan import GenerationPlan
from videosynth.domain.rerun import create_body
from videosynth.domain.task import Task
from videosynth.media.probe import VideoInfo

RECORD_VERSION = 1
# The request's fields that the record states elsewhere (model and seed at the top, prompts by role) or that
# describe the stored request rather than how the video was made.
_NOT_PARAMETERS = frozenset({"model", "prompt", "seed", "prompt_truncated", "negative_prompt_truncated"})


def reproducibility_record(
    task: Task,
    model_prompt: str,
    actual_prompt: str | None,
    plan: GenerationPlan,
    info: VideoInfo,
    recipe: Mapping[str, Any],
    seed: int | None = None,
    frames_sha256: str | None = None,
) -> dict[str, Any]:
    """``seed``: the one the video was made with when not the task's (an upstream's). ``frames_sha256``: the digest
    of the frames handed to the encoder (media.frames.frames_digest); None when the backend made the mp4 itself."""
    request = task.request
    seed = task.seed if seed is None else seed
    return {
        "record_version": RECORD_VERSION,
        "task_id": task.task_id,
        "model": request.model,
        "seed": seed,  # the one drawn when the request named none
        "parameters": {k: v for k, v in request.to_dict().items() if k not in _NOT_PARAMETERS},
        "orig_prompt": request.prompt,
        "actual_prompt": actual_prompt,
        "model_prompt": model_prompt,  # what the model was conditioned on: the rewrite, or the prompt as given
        "generation": {
            "width": plan.gen_width,
            "height": plan.gen_height,
            "frames": plan.gen_frames,
            "fps": plan.fps,
        },
        "output": {
            "width": info.width,
            "height": info.height,
            "frames": info.frames,
            "seconds": info.seconds,
            "frames_sha256": frames_sha256,  # the same frames again ⇔ the same digest (the mp4's bytes may differ)
        },
        "backend": dict(recipe),
        # What `videosynth generate --from-record` sends: the same video, without a second prompt rewrite.
        "create_body": create_body(request, seed, _protocol(request.model), prompt=model_prompt, prompt_extend=False),
        "created": datetime.now(UTC).isoformat(timespec="milliseconds"),
    }


def _protocol(model: str) -> Protocol:
    spec = PUBLIC_MODELS.get(model)
    return spec.protocol if spec else Protocol.WAN27
