"""The public DashScope video model names (text-to-video and image-to-video) and the request rules each follows.

Two wire protocols share one create URL: wan2.7 takes ``resolution`` × ``ratio``; wan2.1–2.6 take ``size`` as
"W*H". Limits below are the documented upstream ones (api-contract.md §1.3–1.5); a server whose checkpoint cannot
meet one narrows it with a ``ServedLimit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Protocol(StrEnum):
    WAN27 = "wan2.7"
    LEGACY = "legacy"


class ImageInputs(StrEnum):
    """Which images a model takes: none (text-to-video), a first frame (image-to-video), or a first frame and
    optionally a last one (first-and-last-frame: wan2.7-i2v, the kf2v models)."""

    NONE = "none"
    FIRST = "first"
    FIRST_LAST = "first_last"


class UsageStyle(StrEnum):
    """Which usage field set a model family reports (api-contract.md §1.7)."""

    WAN27 = "wan2.7"  # duration, input/output_video_duration, video_count, ratio, SR
    WAN26 = "wan2.6"  # duration, size, input/output_video_duration, video_count, SR
    WAN25 = "wan2.5"  # video_count, video_duration, video_ratio ("W*H")


# resolution tier → ratio → (width, height)
WAN27_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "720P": {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (960, 960),
        "4:3": (1104, 832),
        "3:4": (832, 1104),
    },
    "1080P": {
        "16:9": (1920, 1080),
        "9:16": (1080, 1920),
        "1:1": (1440, 1440),
        "4:3": (1648, 1248),
        "3:4": (1248, 1648),
    },
}

LEGACY_SIZES: dict[str, dict[str, tuple[int, int]]] = {
    "480P": {"16:9": (832, 480), "9:16": (480, 832), "1:1": (624, 624)},
    "720P": {
        "16:9": (1280, 720),
        "9:16": (720, 1280),
        "1:1": (960, 960),
        "4:3": (1088, 832),
        "3:4": (832, 1088),
    },
    "1080P": {
        "16:9": (1920, 1080),
        "9:16": (1080, 1920),
        "1:1": (1440, 1440),
        "4:3": (1632, 1248),
        "3:4": (1248, 1632),
    },
}

RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4")
RESOLUTIONS: tuple[str, ...] = ("720P", "1080P")
SEED_MAX = 2_147_483_647
NEGATIVE_PROMPT_LIMIT = 500


@dataclass(frozen=True)
class ServedLimit:
    """The longest clip the checkpoint serving a model on this server makes, where that is less than the model
    allows; ``reason`` says why, for the message that refuses a longer one."""

    longest_duration: int  # seconds; 0 when not even one second fits
    reason: str


@dataclass(frozen=True)
class ModelSpec:
    name: str
    protocol: Protocol
    usage: UsageStyle
    prompt_limit: int
    durations: tuple[int, ...]
    default_duration: int = 5
    tiers: tuple[str, ...] = RESOLUTIONS
    default_size: tuple[int, int] = (1920, 1080)
    limit: ServedLimit | None = None
    # Only the size table, even where a dialect allows any WxH: the entry forwards to an upstream that makes no other.
    table_sizes_only: bool = False
    # An image-to-video model takes ``resolution`` only: its output follows the input image's aspect ratio.
    images: ImageInputs = ImageInputs.NONE

    @property
    def takes_images(self) -> bool:
        return self.images is not ImageInputs.NONE

    def sizes_by_tier(self) -> dict[str, dict[str, tuple[int, int]]]:
        """This model's tiers → ratio → (width, height)."""
        table = WAN27_SIZES if self.protocol is Protocol.WAN27 else LEGACY_SIZES
        return {tier: table[tier] for tier in self.tiers}

    def allowed_sizes(self) -> dict[tuple[int, int], tuple[str, str]]:
        """Every (width, height) this model accepts → (tier, ratio)."""
        return {wh: (tier, ratio) for tier, sizes in self.sizes_by_tier().items() for ratio, wh in sizes.items()}

    def served_durations(self) -> tuple[int, ...]:
        """The durations this model allows that this server can make."""
        if self.limit is None:
            return self.durations
        return tuple(d for d in self.durations if d <= self.limit.longest_duration)


_ANY_2_TO_15 = tuple(range(2, 16))

_SPECS = (
    ModelSpec("wan2.7-t2v", Protocol.WAN27, UsageStyle.WAN27, 5000, _ANY_2_TO_15),
    ModelSpec("wan2.7-t2v-2026-04-25", Protocol.WAN27, UsageStyle.WAN27, 5000, _ANY_2_TO_15),
    ModelSpec("wan2.6-t2v", Protocol.LEGACY, UsageStyle.WAN26, 1500, _ANY_2_TO_15, tiers=("720P", "1080P")),
    ModelSpec("wan2.6-t2v-us", Protocol.LEGACY, UsageStyle.WAN26, 1500, (5, 10), tiers=("720P", "1080P")),
    ModelSpec(
        "wan2.5-t2v-preview",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        1500,
        (5, 10),
        tiers=("480P", "720P", "1080P"),
    ),
    ModelSpec("wan2.2-t2v-plus", Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), tiers=("480P", "1080P")),
    ModelSpec(
        "wanx2.1-t2v-turbo",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("480P", "720P"),
        default_size=(1280, 720),
    ),
    ModelSpec(
        "wan2.1-t2v-turbo",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("480P", "720P"),
        default_size=(1280, 720),
    ),
    ModelSpec(
        "wanx2.1-t2v-plus",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("720P",),
        default_size=(1280, 720),
    ),
    ModelSpec(
        "wan2.1-t2v-plus",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("720P",),
        default_size=(1280, 720),
    ),
)

# Image-to-video [official DashScope i2v/kf2v API references; README "Image-to-video" lists the rules].
_FIRST, _FIRST_LAST = ImageInputs.FIRST, ImageInputs.FIRST_LAST
_I2V_SPECS = (
    ModelSpec("wan2.7-i2v", Protocol.WAN27, UsageStyle.WAN27, 5000, _ANY_2_TO_15, images=_FIRST_LAST),
    ModelSpec(
        "wan2.6-i2v", Protocol.LEGACY, UsageStyle.WAN26, 1500, _ANY_2_TO_15, tiers=("720P", "1080P"), images=_FIRST
    ),
    ModelSpec(
        "wan2.6-i2v-flash",
        Protocol.LEGACY,
        UsageStyle.WAN26,
        1500,
        _ANY_2_TO_15,
        tiers=("720P", "1080P"),
        images=_FIRST,
    ),
    ModelSpec(
        "wan2.5-i2v-preview",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        1500,
        (5, 10),
        tiers=("480P", "720P", "1080P"),
        images=_FIRST,
    ),
    ModelSpec("wan2.2-i2v-plus", Protocol.LEGACY, UsageStyle.WAN25, 800, (5,), tiers=("480P", "1080P"), images=_FIRST),
    ModelSpec(
        "wan2.2-i2v-flash",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("480P", "720P", "1080P"),
        default_size=(1280, 720),
        images=_FIRST,
    ),
    ModelSpec(
        "wanx2.1-i2v-turbo",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (3, 4, 5),
        tiers=("480P", "720P"),
        default_size=(1280, 720),
        images=_FIRST,
    ),
    ModelSpec(
        "wanx2.1-i2v-plus",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("720P",),
        default_size=(1280, 720),
        images=_FIRST,
    ),
    ModelSpec(
        "wanx2.1-kf2v-plus",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("720P",),
        default_size=(1280, 720),
        images=_FIRST_LAST,
    ),
    ModelSpec(
        "wan2.2-kf2v-flash",
        Protocol.LEGACY,
        UsageStyle.WAN25,
        800,
        (5,),
        tiers=("480P", "720P", "1080P"),
        default_size=(1280, 720),
        images=_FIRST_LAST,
    ),
)

PUBLIC_MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (*_SPECS, *_I2V_SPECS)}
