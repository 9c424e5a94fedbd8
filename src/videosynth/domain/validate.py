"""Check a GenerationDraft against its model's rules and normalise it into a GenerationRequest.

Every rejection names the field (the way the draft's dialect does) and what is allowed. Fields are checked in a
fixed order, so a body with several faults always gets the same answer: model, layout, prompt, negative prompt,
size, duration, seed, prompt_extend, watermark, audio_url, images (first frame, last frame).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TypeGuard

from videosynth.domain.catalog import (
    NEGATIVE_PROMPT_LIMIT,
    PUBLIC_MODELS,
    SEED_MAX,
    WAN27_SIZES,
    ImageInputs,
    ModelSpec,
    Protocol,
)
from videosynth.domain.draft import UNSET, ExactSize, Field, GenerationDraft, SizeByModel, SizeChoice, TierRatio
from videosynth.domain.errors import EmptyModel, InvalidField, ModelNotFound
from videosynth.domain.request import GenerationRequest, RequestDefaults
from videosynth.domain.wording import describe

Size = tuple[int, int]
Names = Mapping[Field, str]
_STANDARD_DEFAULTS = RequestDefaults()


def validate_draft(
    draft: GenerationDraft,
    defaults: RequestDefaults = _STANDARD_DEFAULTS,
    models: Mapping[str, ModelSpec] = PUBLIC_MODELS,
) -> GenerationRequest:
    """The request ``draft`` asks for, or an InvalidParameter (a subclass) saying what is wrong with it."""
    names = draft.names
    spec = _model_spec(draft.model, models, names)
    if draft.malformed is not None:
        raise draft.malformed
    # Upstream image-to-video takes no prompt at all (the image says what to animate); text-to-video needs one.
    prompt, prompt_cut = _text(Field.PROMPT, draft.prompt, spec.prompt_limit, names, required=not spec.takes_images)
    negative, negative_cut = _text(Field.NEGATIVE_PROMPT, draft.negative_prompt, NEGATIVE_PROMPT_LIMIT, names)
    if spec.takes_images:
        width, height, tier, ratio = _image_tier(draft.size, spec, defaults, names)
    else:
        width, height, tier, ratio = _size(draft.size, spec, defaults, names)
    audio_url = _audio_url(draft.audio_url, names)
    first, last = _images(draft, spec, names)
    return GenerationRequest(
        model=spec.name,
        prompt=prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        resolution=tier,
        ratio=ratio,
        duration=_duration(draft.duration, spec, names),
        seed=_seed(draft.seed, names),
        prompt_extend=_flag(Field.PROMPT_EXTEND, draft.prompt_extend, defaults.prompt_extend, names),
        watermark=_flag(Field.WATERMARK, draft.watermark, defaults.watermark, names),
        audio_url=audio_url,
        first_frame_url=first,
        last_frame_url=last,
        prompt_truncated=prompt_cut,
        negative_prompt_truncated=negative_cut,
    )


def _model_spec(name: object, models: Mapping[str, ModelSpec], names: Names) -> ModelSpec:
    if name is UNSET or name is None or name == "":
        raise EmptyModel()
    if not isinstance(name, str):
        raise _invalid(names, Field.MODEL, f"must be a string, got {describe(name)}.")
    spec = models.get(name)
    if spec is None:
        raise ModelNotFound()
    return spec


def _invalid(names: Names, field: Field, rest: str) -> InvalidField:
    return InvalidField(f"{names.get(field, field)} {rest}", field=field)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _flag(field: Field, value: object, default: bool, names: Names) -> bool:
    if value is UNSET:
        return default
    if not isinstance(value, bool):
        raise _invalid(names, field, f"must be a boolean (true or false), got {describe(value)}.")
    return value


def _text(field: Field, value: object, limit: int, names: Names, *, required: bool = False) -> tuple[str, bool]:
    """Return the text cut to ``limit`` characters (as upstream does) and whether it was cut."""
    if value is UNSET:
        value = None
    if value is None and not required:
        return "", False
    if not isinstance(value, str) or (required and not value[:limit].strip()):
        allowed = "is required and must be a non-empty string" if required else "must be a string"
        raise _invalid(names, field, f"{allowed}, got {describe(value)}.")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL, and no prompt needs one: refuse it rather than fail later.
        raise _invalid(names, field, "must not contain NUL (\\u0000) characters.")
    return value[:limit], len(value) > limit


URL_SCHEMES = ("http://", "https://", "oss://")  # an input file's URL: on the web, or uploaded through the SDK


def _audio_url(value: object, names: Names) -> str | None:
    if value is UNSET or value is None:
        return None
    # oss://: a file the dashscope SDK uploaded (api-contract §1.3: "http(s), or oss://dashscope-instant/...").
    if not isinstance(value, str) or not value.lower().startswith(URL_SCHEMES):
        raise _invalid(names, Field.AUDIO_URL, f"must be an http(s) URL or an oss:// upload, got {describe(value)}.")
    return value


# ---------------------------------------------------------------------------------------------------- images

_DATA_IMAGE = "data:image/"


def _images(draft: GenerationDraft, spec: ModelSpec, names: Names) -> tuple[str | None, str | None]:
    """(first frame URL, last frame URL) as the model takes them: a text-to-video model takes neither, an
    image-to-video one needs a first frame, and only a first-and-last-frame model takes a last one."""
    given = [
        f for f, v in ((Field.FIRST_FRAME, draft.first_frame), (Field.LAST_FRAME, draft.last_frame)) if _present(v)
    ]
    if not spec.takes_images and given:
        rule = (
            f"is not taken by model {spec.name}, a text-to-video model; use an image-to-video model (e.g. wan2.7-i2v)."
        )
        raise _invalid(names, given[0], rule)
    if not spec.takes_images:
        return None, None
    if not _present(draft.first_frame):
        raise _invalid(names, Field.FIRST_FRAME, f"is required for model {spec.name}, an image-to-video model.")
    if spec.images is not ImageInputs.FIRST_LAST and _present(draft.last_frame):
        raise _invalid(names, Field.LAST_FRAME, f"is not taken by model {spec.name} (first frame only).")
    first = _image_url(Field.FIRST_FRAME, draft.first_frame, names)
    last = _image_url(Field.LAST_FRAME, draft.last_frame, names) if _present(draft.last_frame) else None
    return first, last


def _present(value: object) -> bool:
    return value is not UNSET and value is not None and value != ""


def _image_url(field: Field, value: object, names: Names) -> str:
    """What can be told without fetching: the scheme, and a data: URI's form (the bytes are checked on fetch)."""
    if isinstance(value, str) and value.lower().startswith(URL_SCHEMES):
        return value
    if isinstance(value, str) and value[: len(_DATA_IMAGE)].lower() == _DATA_IMAGE:
        header, comma, payload = value.partition(",")
        if comma and payload and header.lower().endswith(";base64"):
            return value
        raise _invalid(names, field, "must be a data URI of the form data:image/<type>;base64,<data>.")
    rule = "must be an http(s) URL, an oss:// upload or a data:image/…;base64 URI"
    raise _invalid(names, field, f"{rule}, got {describe(value)}.")


def _image_tier(
    choice: SizeChoice, spec: ModelSpec, defaults: RequestDefaults, names: Names
) -> tuple[int, int, str, str]:
    """An image-to-video model reads the resolution tier only (its output follows the image's aspect ratio,
    decided once the worker has the image): the tier, with its 16:9 size standing in until then. A dialect that
    asks sizes as W×H (OpenAI's ``size``) gets the tier nearest that size."""
    tier_value: object = UNSET
    if isinstance(choice, SizeByModel):
        tier_value = choice.tier_ratio.tier
    elif isinstance(choice, TierRatio):
        tier_value = choice.tier
    elif (size := parse_size(choice.text, choice.separator)) is not None:
        tier_value = _nearest_tier(size, spec.allowed_sizes())
    by_tier = spec.sizes_by_tier()
    default_tier, _, _ = _default_size(spec, defaults)
    tier = _one_of(Field.RESOLUTION, tier_value, tuple(by_tier), default_tier, names)
    width, height = by_tier[tier]["16:9"]
    return width, height, tier, "16:9"


def _seed(value: object, names: Names) -> int | None:
    if value is UNSET or value is None:
        return None
    if _is_int(value) and 0 <= value <= SEED_MAX:
        return int(value)
    raise _invalid(names, Field.SEED, f"must be an integer from 0 to {SEED_MAX}, got {describe(value)}.")


# ------------------------------------------------------------------------------------------------------ size


def _size(choice: SizeChoice, spec: ModelSpec, defaults: RequestDefaults, names: Names) -> tuple[int, int, str, str]:
    """(width, height, tier, ratio) of the size asked for; the model's default size where nothing was."""
    if isinstance(choice, SizeByModel):
        choice = choice.tier_ratio if spec.protocol is Protocol.WAN27 else choice.exact
    if isinstance(choice, TierRatio):
        return _tier_ratio(choice, spec, defaults, names)
    return _exact_size(choice, spec, defaults, names)


def _default_size(spec: ModelSpec, defaults: RequestDefaults) -> tuple[str, str, Size]:
    """(tier, ratio, size) when none is asked for: wan2.7's from the server's defaults, older models' their own."""
    if spec.protocol is Protocol.WAN27:
        return defaults.resolution, defaults.ratio, WAN27_SIZES[defaults.resolution][defaults.ratio]
    tier, ratio = spec.allowed_sizes()[spec.default_size]
    return tier, ratio, spec.default_size


def _tier_ratio(
    choice: TierRatio, spec: ModelSpec, defaults: RequestDefaults, names: Names
) -> tuple[int, int, str, str]:
    by_tier = spec.sizes_by_tier()
    default_tier, default_ratio, _ = _default_size(spec, defaults)
    tier = _one_of(Field.RESOLUTION, choice.tier, tuple(by_tier), default_tier, names)
    ratio = _one_of(Field.RATIO, choice.ratio, tuple(by_tier[tier]), default_ratio, names)
    width, height = by_tier[tier][ratio]
    return width, height, tier, ratio


def _one_of(field: Field, value: object, allowed: tuple[str, ...], default: str, names: Names) -> str:
    if value is UNSET:
        value = default
    if isinstance(value, str) and value in allowed:
        return value
    hint = ""
    if isinstance(value, str) and value.upper() in allowed:
        hint = " Values are case-sensitive: use uppercase, e.g. '720P'."
    options = ", ".join(f"'{a}'" for a in allowed)
    raise _invalid(names, field, f"must be one of {options}, got {describe(value)}.{hint}")


def _exact_size(
    choice: ExactSize, spec: ModelSpec, defaults: RequestDefaults, names: Names
) -> tuple[int, int, str, str]:
    if choice.text is UNSET or choice.text is None:
        tier, ratio, (width, height) = _default_size(spec, defaults)
        return width, height, tier, ratio
    allowed = spec.allowed_sizes()
    size = parse_size(choice.text, choice.separator)
    if size is not None and size in allowed:
        tier, ratio = allowed[size]
        return size[0], size[1], tier, ratio
    any_size = choice.any_size and not spec.table_sizes_only
    if size is not None and any_size and _makeable(size, allowed):
        return size[0], size[1], _nearest_tier(size, allowed), _reduced_ratio(size)
    sep = choice.separator
    options = ", ".join(f"'{w}{sep}{h}'" for w, h in allowed)
    rule = f"for model {spec.name} must be one of {options} (width{sep}height)"
    if any_size:
        longest, most = _bounds(allowed)
        rule += f", or any width{sep}height with even sides from {MIN_SIDE} to {longest} and at most {most} pixels"
    raise _invalid(names, Field.SIZE, f"{rule}, got {describe(choice.text)}.")


MIN_SIDE = 128  # smaller than any Wan latent grid is worth generating


def _bounds(allowed: Mapping[Size, object]) -> tuple[int, int]:
    """(longest side, most pixels) of the model's size table: the largest video it makes."""
    return max(max(size) for size in allowed), max(w * h for w, h in allowed)


def _makeable(size: Size, allowed: Mapping[Size, object]) -> bool:
    """A size outside the table the model can still make: frames are generated at the nearest latent-grid size
    and resized to it, and H.264 (yuv420p) needs even sides."""
    longest, most = _bounds(allowed)
    width, height = size
    even = width % 2 == 0 and height % 2 == 0
    return even and min(size) >= MIN_SIDE and max(size) <= longest and width * height <= most


def _nearest_tier(size: Size, allowed: Mapping[Size, tuple[str, str]]) -> str:
    """The tier (what usage reports as SR) of the table size nearest in pixels; the smaller tier on a tie."""
    pixels = size[0] * size[1]
    nearest = min(allowed, key=lambda known: (abs(known[0] * known[1] - pixels), known[0] * known[1]))
    return allowed[nearest][0]


def _reduced_ratio(size: Size) -> str:
    divisor = math.gcd(*size)
    return f"{size[0] // divisor}:{size[1] // divisor}"


def parse_size(value: object, separator: str = "*") -> Size | None:
    """(width, height) of "W<separator>H" in ASCII digits; None for anything else."""
    if not isinstance(value, str):
        return None
    parts = value.split(separator)
    # isascii(): str.isdigit() also accepts "²" or "１", which int() rejects or silently reads.
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1])


# -------------------------------------------------------------------------------------------------- duration


def _duration(value: object, spec: ModelSpec, names: Names) -> int:
    allowed = spec.served_durations()
    if value is UNSET:
        value = _default_duration(spec, allowed)
    if _is_int(value) and value in allowed:
        return int(value)
    raise _invalid(names, Field.DURATION, _duration_rule(spec, allowed, value))


def _default_duration(spec: ModelSpec, allowed: tuple[int, ...]) -> int:
    # A server whose checkpoint makes only shorter clips serves its longest when none is asked for, rather than
    # refuse every request that leaves the duration out.
    if spec.default_duration in allowed or not allowed:
        return spec.default_duration
    return max(allowed)


def _duration_rule(spec: ModelSpec, allowed: tuple[int, ...], value: object) -> str:
    rule = f"for model {spec.name} must be {_durations_text(allowed or spec.durations)}"
    if spec.limit is None:
        return f"{rule}, got {describe(value)}."
    if not allowed:
        return f"{rule}, which this server cannot make ({spec.limit.reason})."
    return f"{rule} on this server ({spec.limit.reason}), got {describe(value)}."


def _durations_text(durations: tuple[int, ...]) -> str:
    lo, hi = durations[0], durations[-1]
    if durations != tuple(range(lo, hi + 1)):
        return "one of the integers " + ", ".join(str(d) for d in durations) + " (seconds)"
    return f"an integer from {lo} to {hi} (seconds)" if lo != hi else f"the integer {lo} (seconds)"
