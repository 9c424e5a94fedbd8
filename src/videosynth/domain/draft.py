"""What a client asked for, in no dialect's words: the neutral draft every API dialect reads its body into.

A dialect (``api/dashscope_wire.py``, …) copies each value as the client sent it, unchecked, and says how it names
each field; ``domain.validate`` checks the draft against the model's rules and names every rejected field the
dialect's way. A new dialect is one more reader of its own body into this draft; the rules stay here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Final

from videosynth.domain.errors import InvalidParameter


class Unset(Enum):
    """A field the client left out: its default applies. Not the same as null, which a JSON client may send."""

    UNSET = "unset"


UNSET: Final = Unset.UNSET


class Field(StrEnum):
    """The neutral name of each field a draft holds."""

    MODEL = "model"
    PROMPT = "prompt"
    NEGATIVE_PROMPT = "negative_prompt"
    AUDIO_URL = "audio_url"
    FIRST_FRAME = "first_frame"  # the image an image-to-video model starts from
    LAST_FRAME = "last_frame"  # the image a first-and-last-frame model ends on
    RESOLUTION = "resolution"
    RATIO = "ratio"
    SIZE = "size"
    DURATION = "duration"
    SEED = "seed"
    PROMPT_EXTEND = "prompt_extend"
    WATERMARK = "watermark"


@dataclass(frozen=True)
class TierRatio:
    """A size asked as a resolution tier and an aspect ratio ("720P", "16:9"); either may be left out."""

    tier: object = UNSET
    ratio: object = UNSET


@dataclass(frozen=True)
class ExactSize:
    """A size asked as width and height in one string: "1280*720" with separator "*", "1280x720" with "x"."""

    text: object = UNSET
    separator: str = "*"
    # Any W×H the model can make (even sides, within its largest size), not only its size table: the OpenAI
    # dialect's contract. DashScope's ``size`` is the official table only.
    any_size: bool = False


@dataclass(frozen=True)
class SizeByModel:
    """Both forms as written, for a dialect in which the model decides which one counts: a model of the tier ×
    ratio protocol (wan2.7) reads ``tier_ratio``, any other (wan2.1–2.6) ``exact``, and the other form is ignored."""

    tier_ratio: TierRatio
    exact: ExactSize


SizeChoice = TierRatio | ExactSize | SizeByModel


@dataclass(frozen=True)
class GenerationDraft:
    """One create request as sent. ``names`` maps a field to how the client's dialect names it in messages
    (fields it leaves out keep their neutral name). ``malformed`` is a fault the dialect found in the body's
    layout; it is reported once the model is known to exist, as an unknown model is always reported first."""

    model: object = UNSET
    prompt: object = UNSET
    negative_prompt: object = UNSET
    audio_url: object = UNSET
    first_frame: object = UNSET
    last_frame: object = UNSET
    size: SizeChoice = TierRatio()
    duration: object = UNSET
    seed: object = UNSET
    prompt_extend: object = UNSET
    watermark: object = UNSET
    names: Mapping[Field, str] = field(default_factory=dict)
    malformed: InvalidParameter | None = None
