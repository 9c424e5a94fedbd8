"""The normalised request a task is made from (``domain.validate`` builds it from a draft), and its defaults."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


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
    # Image-to-video: the first (and last) frame's URL (http(s), data: or an oss:// upload). The worker decides
    # width × height from the decoded image (domain.image_size); until then they are the tier's 16:9 size.
    first_frame_url: str | None = None
    last_frame_url: str | None = None
    prompt_truncated: bool = False
    negative_prompt_truncated: bool = False
    # The task this one remixes (OpenAI's remix): its parameters with a new prompt. None in rows written before.
    remixed_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Every field is a scalar, so a flat copy is what dataclasses.asdict would give, at a fraction of its cost.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationRequest:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})
