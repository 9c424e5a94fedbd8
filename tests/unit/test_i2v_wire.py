"""The DashScope image-to-video bodies (img_url, first/last_frame_url, wan2.7 media), read and validated."""

from __future__ import annotations

from typing import Any

import pytest

from videosynth.api.dashscope_wire import read_create_body
from videosynth.domain.errors import InvalidField, InvalidParameter
from videosynth.domain.request import GenerationRequest
from videosynth.domain.validate import validate_draft

A, B, SOUND = "https://example.com/a.png", "https://example.com/b.png", "https://example.com/s.mp3"


def parse(body: dict[str, Any]) -> GenerationRequest:
    return validate_draft(read_create_body(body))


def refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidParameter) as info:
        parse(body)
    assert info.value.code == "InvalidParameter"
    assert info.value.message == message


def test_legacy_img_url_and_resolution() -> None:
    request = parse({"model": "wan2.5-i2v-preview", "input": {"img_url": A}, "parameters": {"resolution": "480P"}})
    assert (request.first_frame_url, request.resolution, request.width, request.height) == (A, "480P", 832, 480)


def test_kf2v_first_and_last_frame_urls() -> None:
    body = {"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": A, "last_frame_url": B, "extend_prompt": True}}
    request = parse(body)
    assert (request.first_frame_url, request.last_frame_url) == (A, B)


def test_wan27_media_items() -> None:
    media = [
        {"type": "first_frame", "url": A},
        {"type": "last_frame", "url": B},
        {"type": "driving_audio", "url": SOUND},
    ]
    request = parse({"model": "wan2.7-i2v", "input": {"prompt": "a cat", "media": media}})
    assert (request.first_frame_url, request.last_frame_url, request.audio_url) == (A, B, SOUND)


def test_media_comes_before_img_url_when_both_name_a_first_frame() -> None:
    body = {"model": "wan2.7-i2v", "input": {"img_url": B, "media": [{"type": "first_frame", "url": A}]}}
    assert parse(body).first_frame_url == A


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"model": "wan2.6-t2v", "input": {"prompt": "x", "img_url": A}},
            "input.img_url is not taken by model wan2.6-t2v, a text-to-video model; use an image-to-video model "
            "(e.g. wan2.7-i2v).",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": [{"type": "last_frame", "url": B}]}},
            "input.img_url is required for model wan2.7-i2v, an image-to-video model.",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": [{"type": "first_frame", "url": "ftp://x"}]}},
            "input.media first_frame url must be an http(s) URL, an oss:// upload or a data:image/…;base64 URI, "
            "got 'ftp://x' (a string).",
        ),
        (
            {"model": "wan2.6-i2v", "input": {"img_url": A, "last_frame_url": B}},
            "input.last_frame_url is not taken by model wan2.6-i2v (first frame only).",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": {"type": "first_frame"}}},
            "'input.media' must be a JSON array, got {'type': 'first_frame'} (an object).",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": [{"type": "first_clip", "url": A}]}},
            "input.media type must be one of 'first_frame', 'last_frame', 'driving_audio', got 'first_clip' "
            "(a string).",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": [{"type": "first_frame", "url": A}] * 2}},
            "input.media has more than one 'first_frame' item.",
        ),
        (
            {"model": "wan2.7-i2v", "input": {"media": ["x"]}},
            "'input.media[]' must be a JSON object, got 'x' (a string).",
        ),
    ],
)
def test_bad_image_bodies(body: dict[str, Any], message: str) -> None:
    refused(body, message)


def test_a_bad_image_names_the_field() -> None:
    with pytest.raises(InvalidField) as info:
        parse({"model": "wanx2.1-kf2v-plus", "input": {"first_frame_url": "nope"}})
    assert info.value.message.startswith("input.first_frame_url must be")
