"""Image-to-video in the domain: which models take which images, the create-time URL checks, the tier-only size,
and the output size rule (domain/image_size.py)."""

from __future__ import annotations

from typing import Any

import pytest

from videosynth.domain.catalog import PUBLIC_MODELS, ImageInputs
from videosynth.domain.draft import ExactSize, Field, GenerationDraft, SizeByModel, TierRatio
from videosynth.domain.errors import InvalidField
from videosynth.domain.image_size import image_output_size, nearest_ratio
from videosynth.domain.validate import validate_draft

PNG = "https://example.com/cat.png"


def i2v(model: str = "wan2.6-i2v", **fields: Any) -> GenerationDraft:
    return GenerationDraft(model=model, **({"first_frame": PNG} | fields))


def refused(data: GenerationDraft, field: Field, message: str) -> None:
    with pytest.raises(InvalidField) as info:
        validate_draft(data)
    assert (info.value.code, info.value.field, info.value.message) == ("InvalidParameter", field, message)


# name → (durations, tiers, default tier) as the official i2v / kf2v references give them
I2V_MODELS = {
    "wan2.7-i2v": (tuple(range(2, 16)), ("720P", "1080P"), None),  # None: the server's wan2.7 default
    "wan2.6-i2v": (tuple(range(2, 16)), ("720P", "1080P"), "1080P"),
    "wan2.6-i2v-flash": (tuple(range(2, 16)), ("720P", "1080P"), "1080P"),
    "wan2.5-i2v-preview": ((5, 10), ("480P", "720P", "1080P"), "1080P"),
    "wan2.2-i2v-plus": ((5,), ("480P", "1080P"), "1080P"),
    "wan2.2-i2v-flash": ((5,), ("480P", "720P", "1080P"), "720P"),
    "wanx2.1-i2v-turbo": ((3, 4, 5), ("480P", "720P"), "720P"),
    "wanx2.1-i2v-plus": ((5,), ("720P",), "720P"),
    "wanx2.1-kf2v-plus": ((5,), ("720P",), "720P"),
    "wan2.2-kf2v-flash": ((5,), ("480P", "720P", "1080P"), "720P"),
}


@pytest.mark.parametrize("name", sorted(I2V_MODELS))
def test_i2v_model_table(name: str) -> None:
    durations, tiers, default_tier = I2V_MODELS[name]
    spec = PUBLIC_MODELS[name]
    assert (spec.durations, spec.tiers, spec.default_duration) == (durations, tiers, 5)
    assert validate_draft(i2v(name)).resolution == (default_tier or "720P")


def test_the_i2v_names_are_exactly_these() -> None:
    assert {name for name, spec in PUBLIC_MODELS.items() if spec.takes_images} == set(I2V_MODELS)


def test_every_i2v_model_takes_a_first_frame_and_only_first_last_ones_a_last() -> None:
    takes = {name: spec.images for name, spec in PUBLIC_MODELS.items() if spec.takes_images}
    assert takes["wan2.7-i2v"] is ImageInputs.FIRST_LAST
    assert takes["wanx2.1-kf2v-plus"] is takes["wan2.2-kf2v-flash"] is ImageInputs.FIRST_LAST
    assert takes["wan2.6-i2v"] is takes["wanx2.1-i2v-turbo"] is ImageInputs.FIRST
    assert not PUBLIC_MODELS["wan2.7-t2v"].takes_images


def test_an_i2v_request_keeps_its_images_and_needs_no_prompt() -> None:
    request = validate_draft(i2v("wan2.7-i2v", last_frame="oss://dashscope-instant/k/1/b.png"))
    assert (request.first_frame_url, request.last_frame_url) == (PNG, "oss://dashscope-instant/k/1/b.png")
    assert request.prompt == ""


@pytest.mark.parametrize(
    ("model", "size", "expected"),
    [
        ("wan2.6-i2v", TierRatio(), ("1080P", 1920, 1080)),  # the model's own default tier
        ("wanx2.1-i2v-turbo", SizeByModel(TierRatio("480P"), ExactSize()), ("480P", 832, 480)),
        ("wan2.7-i2v", SizeByModel(TierRatio("1080P", "9:16"), ExactSize()), ("1080P", 1920, 1080)),
        ("wan2.7-i2v", TierRatio(), ("720P", 1280, 720)),  # the server's default for wan2.7
        ("wan2.6-i2v", SizeByModel(TierRatio(), ExactSize("720*1280")), ("1080P", 1920, 1080)),  # size: not read
        ("wan2.6-i2v", ExactSize("720x1280", separator="x"), ("720P", 1280, 720)),  # W×H dialects: nearest tier
        ("wan2.6-i2v", ExactSize("big", separator="x"), ("1080P", 1920, 1080)),
    ],
)
def test_i2v_reads_the_resolution_tier_only(model: str, size: Any, expected: tuple[str, int, int]) -> None:
    request = validate_draft(i2v(model, size=size))
    assert (request.resolution, request.width, request.height) == expected


def test_an_i2v_tier_outside_the_models_is_refused() -> None:
    refused(
        i2v("wanx2.1-i2v-plus", size=TierRatio("480P")),
        Field.RESOLUTION,
        "resolution must be one of '720P', got '480P' (a string).",
    )


def test_a_t2v_model_given_an_image_is_refused() -> None:
    data = GenerationDraft(model="wan2.6-t2v", prompt="a cat", last_frame=PNG)
    refused(
        data,
        Field.LAST_FRAME,
        "last_frame is not taken by model wan2.6-t2v, a text-to-video model; use an image-to-video model "
        "(e.g. wan2.7-i2v).",
    )


@pytest.mark.parametrize("missing", [None, ""])
def test_an_i2v_model_needs_its_first_frame(missing: object) -> None:
    refused(
        i2v(first_frame=missing),
        Field.FIRST_FRAME,
        "first_frame is required for model wan2.6-i2v, an image-to-video model.",
    )


def test_a_first_frame_model_takes_no_last_frame() -> None:
    refused(i2v(last_frame=PNG), Field.LAST_FRAME, "last_frame is not taken by model wan2.6-i2v (first frame only).")


@pytest.mark.parametrize("url", ["http://a/b.jpg", "HTTPS://a/b", "oss://x/y.png", "data:image/png;base64,iVBO"])
def test_image_urls_accepted(url: str) -> None:
    assert validate_draft(i2v(first_frame=url)).first_frame_url == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("data:image/png,plain", "must be a data URI of the form data:image/<type>;base64,<data>."),
        ("data:image/png;base64,", "must be a data URI of the form data:image/<type>;base64,<data>."),
        ("ftp://a/b.png", "must be an http(s) URL, an oss:// upload or a data:image/…;base64 URI, got 'ftp://a/b.png'"),
        ("data:text/plain;base64,QQ==", "must be an http(s) URL, an oss:// upload or a data:image/…;base64 URI"),
        (3, "must be an http(s) URL, an oss:// upload or a data:image/…;base64 URI, got 3 (an integer)."),
    ],
)
def test_image_urls_refused(url: object, message: str) -> None:
    with pytest.raises(InvalidField) as info:
        validate_draft(i2v(first_frame=url))
    assert info.value.field is Field.FIRST_FRAME and message in info.value.message


@pytest.mark.parametrize(
    ("image", "tier", "multiple", "expected"),
    [
        ((1920, 1080), 1280 * 720, 16, (1280, 720)),  # the tier's own aspect: its own size
        ((1080, 1920), 1280 * 720, 16, (720, 1280)),
        ((1000, 1000), 1280 * 720, 16, (960, 960)),
        ((800, 600), 832 * 480, 16, (720, 544)),  # 4:3 at 480P
        ((3000, 1000), 1920 * 1080, 32, (2464, 800)),  # 3:1, 32-pixel grid (Wan2.2 VAE)
        ((1, 5000), 832 * 480, 15, (30, 13290)),
        ((5000, 1), 832 * 480, 16, (24960, 16)),  # an odd multiple is doubled for even sides; never below one step
    ],
)
def test_output_follows_the_image_aspect_at_the_tier(
    image: tuple[int, int], tier: int, multiple: int, expected: tuple[int, int]
) -> None:
    width, height = image_output_size(*image, tier, multiple)
    assert (width, height) == expected
    assert width * height <= tier


@pytest.mark.parametrize("args", [(0, 10, 100, 16), (10, 10, 0, 16), (10, 10, 100, 0)])
def test_output_size_needs_positive_inputs(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        image_output_size(*args)


@pytest.mark.parametrize(
    ("size", "ratio"), [((1280, 720), "16:9"), ((720, 1280), "9:16"), ((960, 960), "1:1"), ((1104, 832), "4:3")]
)
def test_nearest_ratio(size: tuple[int, int], ratio: str) -> None:
    assert nearest_ratio(*size) == ratio
