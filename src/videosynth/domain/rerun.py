"""A task's request as a DashScope create body: sent again, it makes the same task (the seed included).

Used by the playground's task parameters and by the reproducibility record, whose body names the prompt the model
was conditioned on with prompt extension off, so a rerun skips the (non-deterministic) rewrite.
"""

from __future__ import annotations

from typing import Any

from videosynth.domain.catalog import Protocol
from videosynth.domain.request import GenerationRequest


def create_body(
    request: GenerationRequest,
    seed: int,
    protocol: Protocol,
    *,
    prompt: str | None = None,
    prompt_extend: bool | None = None,
) -> dict[str, Any]:
    """``prompt`` and ``prompt_extend`` replace the request's own (a rerun of the model's actual prompt)."""
    inputs: dict[str, Any] = {"prompt": request.prompt if prompt is None else prompt}
    optional_inputs = (
        ("negative_prompt", request.negative_prompt or None),
        ("audio_url", request.audio_url),
        # Every image model reads these names (the SDK sends them for kf2v; img_url and media are the others).
        ("first_frame_url", request.first_frame_url),
        ("last_frame_url", request.last_frame_url),
    )
    inputs.update({name: value for name, value in optional_inputs if value is not None})
    parameters: dict[str, Any] = {
        "duration": request.duration,
        "seed": seed,
        "prompt_extend": request.prompt_extend if prompt_extend is None else prompt_extend,
        "watermark": request.watermark,
    }
    if request.first_frame_url is not None:
        parameters["resolution"] = request.resolution  # the image gives the aspect ratio
    elif protocol is Protocol.WAN27:
        parameters.update(resolution=request.resolution, ratio=request.ratio)
    else:
        parameters["size"] = f"{request.width}*{request.height}"
    return {"model": request.model, "input": inputs, "parameters": parameters}
