"""DashScope's create body (api-contract.md §1.3–1.4), read into the neutral GenerationDraft.

``{"model", "input": {prompt, negative_prompt, audio_url}, "parameters": {resolution, ratio, size, duration, seed,
prompt_extend, watermark}}``. Image-to-video adds the first (and last) frame: ``input.img_url`` (legacy i2v),
``input.first_frame_url`` / ``input.last_frame_url`` (kf2v), or wan2.7's ``input.media`` list of
``{"type": "first_frame" | "last_frame" | "driving_audio", "url"}`` (driving_audio is the soundtrack).

Values are copied as sent; ``domain.validate`` checks them and names each field the way this module says
(``input.prompt``, ``parameters.seed``). Unknown keys are ignored on purpose: the official SDKs send extras
(``input.extend_prompt``, ``input.function``, ``parameters.with_audio``…). apiyi relays the same body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
        Field.FIRST_FRAME: "input.img_url",
        Field.LAST_FRAME: "input.last_frame_url",
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
        media = _media(inputs.get("media"))
    except InvalidParameter as fault:
        return GenerationDraft(model=model, names=FIELD_NAMES, malformed=fault)
    frames = _frames(inputs, media)
    return GenerationDraft(
        model=model,
        prompt=inputs.get("prompt", UNSET),
        negative_prompt=inputs.get("negative_prompt", UNSET),
        audio_url=media.get("driving_audio", inputs.get("audio_url", UNSET)),
        first_frame=frames.get(Field.FIRST_FRAME, (UNSET, ""))[0],
        last_frame=frames.get(Field.LAST_FRAME, (UNSET, ""))[0],
        # wan2.7 reads resolution × ratio, wan2.1–2.6 read size: the model named decides, once it is known.
        size=SizeByModel(
            TierRatio(params.get("resolution", UNSET), params.get("ratio", UNSET)),
            ExactSize(params.get("size", UNSET), separator="*"),
        ),
        duration=params.get("duration", UNSET),
        seed=params.get("seed", UNSET),
        prompt_extend=params.get("prompt_extend", UNSET),
        watermark=params.get("watermark", UNSET),
        names={**FIELD_NAMES, **{field: name for field, (_value, name) in frames.items()}},
    )


MEDIA_TYPES = ("first_frame", "last_frame", "driving_audio")


def _frames(inputs: Mapping[str, Any], media: Mapping[str, object]) -> dict[Field, tuple[object, str]]:
    """Each frame given → (its value, the wire name it came under, for messages). One frame under two names is
    read from the first of: media, img_url / first_frame_url (the SDK sends whichever the caller used)."""
    found: dict[Field, tuple[object, str]] = {}
    sources = (
        (Field.FIRST_FRAME, "input.media first_frame url", media.get("first_frame", UNSET)),
        (Field.FIRST_FRAME, "input.img_url", inputs.get("img_url", UNSET)),
        (Field.FIRST_FRAME, "input.first_frame_url", inputs.get("first_frame_url", UNSET)),
        (Field.LAST_FRAME, "input.media last_frame url", media.get("last_frame", UNSET)),
        (Field.LAST_FRAME, "input.last_frame_url", inputs.get("last_frame_url", UNSET)),
    )
    for field, name, value in sources:
        if value is not UNSET and field not in found:
            found[field] = (value, name)
    return found


def _media(value: object) -> dict[str, object]:
    """wan2.7's ``input.media``: type → url, each type at most once; absent or null: none."""
    if value is None:
        return {}
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise InvalidParameter(f"'input.media' must be a JSON array, got {describe(value)}.")
    found: dict[str, object] = {}
    for raw in value:
        item = _object(raw, "input.media[]")
        kind = item.get("type")
        if kind not in MEDIA_TYPES:
            allowed = ", ".join(f"'{t}'" for t in MEDIA_TYPES)
            raise InvalidParameter(f"input.media type must be one of {allowed}, got {describe(kind)}.")
        if kind in found:
            raise InvalidParameter(f"input.media has more than one '{kind}' item.")
        found[str(kind)] = item.get("url")
    return found


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
