"""DashScope's create body (api-contract.md §1.3–1.4), read into the neutral GenerationDraft.

``{"model", "input": {prompt, negative_prompt, audio_url}, "parameters": {resolution, ratio, size, duration, seed,
prompt_extend, watermark}}``. Values are copied as sent; ``domain.validate`` checks them and names each field the
way this module says (``input.prompt``, ``parameters.seed``). Unknown keys are ignored on purpose: the official SDKs
send extras (``input.extend_prompt``, ``input.function``, ``parameters.with_audio``…). apiyi relays the same body.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from videosynth.domain.draft import UNSET, ExactSize, Field, GenerationDraft, SizeByModel, TierRatio
from videosynth.domain.errors import EmptyInput, InvalidParameter
from videosynth.domain.wording import describe

FIELD_NAMES: Mapping[Field, str] = MappingProxyType(
    {
        Field.MODEL: "'model'",
        Field.PROMPT: "input.prompt",
        Field.NEGATIVE_PROMPT: "input.negative_prompt",
        Field.AUDIO_URL: "input.audio_url",
        Field.RESOLUTION: "parameters.resolution",
        Field.RATIO: "parameters.ratio",
        Field.SIZE: "parameters.size",
        Field.DURATION: "parameters.duration",
        Field.SEED: "parameters.seed",
        Field.PROMPT_EXTEND: "parameters.prompt_extend",
        Field.WATERMARK: "parameters.watermark",
    }
)


def read_create_body(body: object) -> GenerationDraft:
    """The draft a decoded JSON create body asks for; only a body that is not a JSON object is refused here."""
    if not isinstance(body, Mapping):
        raise InvalidParameter(f"The request body must be a JSON object, got {describe(body)}.")
    model = body.get("model", UNSET)
    try:
        inputs, params = _sections(body)
    except InvalidParameter as fault:
        return GenerationDraft(model=model, names=FIELD_NAMES, malformed=fault)
    return GenerationDraft(
        model=model,
        prompt=inputs.get("prompt", UNSET),
        negative_prompt=inputs.get("negative_prompt", UNSET),
        audio_url=inputs.get("audio_url", UNSET),
        # wan2.7 reads resolution × ratio, wan2.1–2.6 read size: the model named decides, once it is known.
        size=SizeByModel(
            TierRatio(params.get("resolution", UNSET), params.get("ratio", UNSET)),
            ExactSize(params.get("size", UNSET), separator="*"),
        ),
        duration=params.get("duration", UNSET),
        seed=params.get("seed", UNSET),
        prompt_extend=params.get("prompt_extend", UNSET),
        watermark=params.get("watermark", UNSET),
        names=FIELD_NAMES,
    )


def _sections(body: Mapping[str, Any]) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """``input`` and ``parameters`` (absent or null: no parameters)."""
    if body.get("input") is None:
        raise EmptyInput()
    inputs = _object(body["input"], "input")
    raw_params = body.get("parameters")
    return inputs, _object({} if raw_params is None else raw_params, "parameters")


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"'{field}' must be a JSON object, got {describe(value)}.")
    return value
