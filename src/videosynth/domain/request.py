"""Validate a create-task body into a normalised GenerationRequest.

Every rejection names the field and what is allowed. Unknown keys are ignored on purpose: the official SDKs send
extras (``input.extend_prompt``, ``input.function``, ``parameters.with_audio``…).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from videosynth.domain.catalog import (
    NEGATIVE_PROMPT_LIMIT,
    PUBLIC_MODELS,
    RATIOS,
    RESOLUTIONS,
    SEED_MAX,
    WAN27_SIZES,
    ModelSpec,
    Protocol,
)
from videosynth.domain.errors import EmptyInput, EmptyModel, InvalidParameter, ModelNotFound


@dataclass(frozen=True)
class RequestDefaults:
    resolution: str = "720P"
    ratio: str = "16:9"
    prompt_extend: bool = True
    watermark: bool = False


@dataclass(frozen=True)
class GenerationRequest:
    """What a client asked for, normalised; stored with the task and handed to the worker."""

    model: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    resolution: str
    ratio: str
    duration: int
    seed: int | None
    prompt_extend: bool
    watermark: bool
    audio_url: str | None = None
    prompt_truncated: bool = False
    negative_prompt_truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar, so a flat copy is what dataclasses.asdict would give, at a fraction of its cost.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationRequest:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def _describe(value: object) -> str:
    kind = {
        bool: "a boolean",
        str: "a string",
        float: "a number",
        int: "an integer",
        list: "a list",
        dict: "an object",
    }
    return f"{value!r} ({kind.get(type(value), type(value).__name__)})" if value is not None else "null"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _object(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidParameter(f"'{field}' must be a JSON object, got {_describe(value)}.")
    return value


def _boolean(params: Mapping[str, Any], field: str, default: bool) -> bool:
    value = params.get(field, default)
    if not isinstance(value, bool):
        raise InvalidParameter(f"parameters.{field} must be a boolean (true or false), got {_describe(value)}.")
    return value


def _text(container: Mapping[str, Any], field: str, limit: int, *, required: bool) -> tuple[str, bool]:
    """Return the text cut to ``limit`` characters (as upstream does) and whether it was cut."""
    value = container.get(field)
    if value is None and not required:
        return "", False
    if not isinstance(value, str) or (required and not value[:limit].strip()):
        allowed = "is required and must be a non-empty string" if required else "must be a string"
        raise InvalidParameter(f"input.{field} {allowed}, got {_describe(value)}.")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL, and no prompt needs one: refuse it rather than fail later.
        raise InvalidParameter(f"input.{field} must not contain NUL (\\u0000) characters.")
    return value[:limit], len(value) > limit


def _audio_url(inputs: Mapping[str, Any]) -> str | None:
    value = inputs.get("audio_url")
    if value is None:
        return None
    if not isinstance(value, str) or not value.lower().startswith(("http://", "https://")):
        raise InvalidParameter(f"input.audio_url must be an http(s) URL, got {_describe(value)}.")
    return value


def _choice(params: Mapping[str, Any], field: str, allowed: tuple[str, ...], default: str) -> str:
    value = params.get(field, default)
    if isinstance(value, str) and value in allowed:
        return value
    hint = ""
    if isinstance(value, str) and value.upper() in allowed:
        hint = " Values are case-sensitive: use uppercase, e.g. '720P'."
    options = ", ".join(f"'{a}'" for a in allowed)
    raise InvalidParameter(f"parameters.{field} must be one of {options}, got {_describe(value)}.{hint}")


def _duration(params: Mapping[str, Any], spec: ModelSpec) -> int:
    value = params.get("duration", spec.default_duration)
    if _is_int(value) and value in spec.durations:
        return int(value)
    lo, hi = spec.durations[0], spec.durations[-1]
    if spec.durations == tuple(range(lo, hi + 1)):
        allowed = f"an integer from {lo} to {hi} (seconds)" if lo != hi else f"the integer {lo} (seconds)"
    else:
        allowed = "one of the integers " + ", ".join(str(d) for d in spec.durations) + " (seconds)"
    raise InvalidParameter(f"parameters.duration for model {spec.name} must be {allowed}, got {_describe(value)}.")


def _seed(params: Mapping[str, Any]) -> int | None:
    value = params.get("seed")
    if value is None:
        return None
    if _is_int(value) and 0 <= value <= SEED_MAX:
        return int(value)
    raise InvalidParameter(f"parameters.seed must be an integer from 0 to {SEED_MAX}, got {_describe(value)}.")


def _legacy_size(params: Mapping[str, Any], spec: ModelSpec) -> tuple[int, int, str, str]:
    allowed = spec.allowed_sizes()
    value = params.get("size")
    if value is None:
        width, height = spec.default_size
    else:
        parsed = _parse_size(value)
        if parsed is None or parsed not in allowed:
            options = ", ".join(f"'{w}*{h}'" for w, h in allowed)
            raise InvalidParameter(
                f"parameters.size for model {spec.name} must be one of {options} (width*height), "
                f"got {_describe(value)}."
            )
        width, height = parsed
    tier, ratio = allowed[(width, height)]
    return width, height, tier, ratio


def _parse_size(value: object) -> tuple[int, int] | None:
    if not isinstance(value, str):
        return None
    parts = value.split("*")
    # isascii(): str.isdigit() also accepts "²" or "１", which int() rejects or silently reads.
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


def model_spec(body: Mapping[str, Any], models: Mapping[str, ModelSpec]) -> ModelSpec:
    name = body.get("model")
    if name is None or name == "":
        raise EmptyModel()
    if not isinstance(name, str):
        raise InvalidParameter(f"'model' must be a string, got {_describe(name)}.")
    spec = models.get(name)
    if spec is None:
        raise ModelNotFound()
    return spec


def parse_create_body(
    body: object,
    defaults: RequestDefaults = RequestDefaults(),
    models: Mapping[str, ModelSpec] = PUBLIC_MODELS,
) -> GenerationRequest:
    """Turn a decoded JSON create body into a GenerationRequest, or raise an InvalidParameter subclass."""
    if not isinstance(body, Mapping):
        raise InvalidParameter(f"The request body must be a JSON object, got {_describe(body)}.")
    spec = model_spec(body, models)
    if body.get("input") is None:
        raise EmptyInput()
    inputs = _object(body["input"], "input")
    raw_params = body.get("parameters")
    params = _object({} if raw_params is None else raw_params, "parameters")
    prompt, prompt_cut = _text(inputs, "prompt", spec.prompt_limit, required=True)
    negative, negative_cut = _text(inputs, "negative_prompt", NEGATIVE_PROMPT_LIMIT, required=False)
    if spec.protocol is Protocol.WAN27:
        resolution = _choice(params, "resolution", RESOLUTIONS, defaults.resolution)
        ratio = _choice(params, "ratio", RATIOS, defaults.ratio)
        width, height = WAN27_SIZES[resolution][ratio]
    else:
        width, height, resolution, ratio = _legacy_size(params, spec)
    return GenerationRequest(
        model=spec.name,
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        resolution=resolution,
        ratio=ratio,
        duration=_duration(params, spec),
        seed=_seed(params),
        prompt_extend=_boolean(params, "prompt_extend", defaults.prompt_extend),
        watermark=_boolean(params, "watermark", defaults.watermark),
        audio_url=_audio_url(inputs),
        prompt_truncated=prompt_cut,
        negative_prompt_truncated=negative_cut,
    )
