"""OpenAI's video create body (api-contract.md §4), read into the neutral GenerationDraft.

``{prompt, model, seconds, size}`` as multipart/form-data (what the openai SDK sends: every value a string) or as
JSON, plus videosynth's extension fields ``negative_prompt``, ``seed``, ``watermark`` and ``prompt_extend``.
``model`` names one of our models; any other name (``sora-2``, the SDK's default) or none means the configured
default. ``seconds`` is a string of an integer the model supports; ``size`` is ``WIDTHxHEIGHT`` from the model's
size table or any other the model can make (domain.draft.ExactSize.any_size). ``input_reference``
(image-to-video, for an i2v ``model`` such as ``wan2.7-i2v``) is ``{"image_url": …}`` or the URL itself, read as
the first frame (an http(s) URL or a ``data:image/…;base64`` URI); a file upload there is refused. Unknown fields
are ignored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from types import MappingProxyType

from videosynth.domain.draft import UNSET, ExactSize, Field, GenerationDraft
from videosynth.domain.errors import InvalidField, InvalidParameter
from videosynth.domain.request import GenerationRequest
from videosynth.domain.wording import describe

# How this dialect names each field, in messages and in an error's ``param``.
FIELD_NAMES: Mapping[Field, str] = MappingProxyType(
    {
        Field.MODEL: "model",
        Field.PROMPT: "prompt",
        Field.NEGATIVE_PROMPT: "negative_prompt",
        Field.SIZE: "size",
        Field.DURATION: "seconds",
        Field.SEED: "seed",
        Field.PROMPT_EXTEND: "prompt_extend",
        Field.WATERMARK: "watermark",
        Field.FIRST_FRAME: "input_reference",
    }
)

INPUT_REFERENCE_MESSAGE = (
    'input_reference as a file upload is not supported: send {"image_url": "https://…"} (or a data:image/…;base64 '
    "URI) with an image-to-video model such as wan2.7-i2v."
)


def param_name(field: str | None) -> str | None:
    """An error's ``param`` in this dialect's words, from the neutral field name."""
    if field is None:
        return None
    try:
        return FIELD_NAMES.get(Field(field), field)
    except ValueError:
        return field


def read_create_body(
    body: object, models: Collection[str], default_model: str, files: Collection[str] = ()
) -> GenerationDraft:
    """The draft a create body asks for (a decoded JSON object, or a form's text fields with ``files`` the names
    of its uploads). Form values are strings, so integers and booleans are read from their text too."""
    if not isinstance(body, Mapping):
        raise InvalidParameter(f"The request body must be a JSON object, got {describe(body)}.")
    if "input_reference" in files:
        raise InvalidField(INPUT_REFERENCE_MESSAGE, field=Field.FIRST_FRAME)
    model = body.get("model")
    return GenerationDraft(
        model=model if isinstance(model, str) and model in models else default_model,
        prompt=body.get("prompt", UNSET),
        negative_prompt=body.get("negative_prompt", UNSET),
        size=ExactSize(body.get("size", UNSET), separator="x", any_size=True),
        duration=_integer(body.get("seconds", UNSET)),
        seed=_integer(body.get("seed", UNSET)),
        prompt_extend=_boolean(body.get("prompt_extend", UNSET)),
        watermark=_boolean(body.get("watermark", UNSET)),
        first_frame=_image_url(body.get("input_reference", UNSET)),
        names=FIELD_NAMES,
    )


def _image_url(reference: object) -> object:
    """``input_reference``'s image: ``{"image_url": …}`` (OpenAI's object form) or the URL as a plain value."""
    if isinstance(reference, Mapping):
        return reference.get("image_url", UNSET)
    return reference


def remix_draft(source: GenerationRequest, seed: int, prompt: object) -> GenerationDraft:
    """A new draft with ``source``'s parameters (and seed) and a new prompt, checked like any create."""
    return GenerationDraft(
        model=source.model,
        prompt=prompt,
        negative_prompt=source.negative_prompt,
        size=ExactSize(f"{source.width}x{source.height}", separator="x", any_size=True),
        duration=source.duration,
        seed=seed,
        prompt_extend=source.prompt_extend,
        watermark=source.watermark,
        audio_url=source.audio_url if source.audio_url is not None else UNSET,
        first_frame=source.first_frame_url if source.first_frame_url is not None else UNSET,
        last_frame=source.last_frame_url if source.last_frame_url is not None else UNSET,
        names=FIELD_NAMES,
    )


def _integer(value: object) -> object:
    """An integer sent as its text ("8") as the integer; anything else as sent (validation names it)."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return value


def _boolean(value: object) -> object:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value
