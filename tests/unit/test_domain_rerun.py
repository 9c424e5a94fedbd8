"""A task's request as a create body: wan2.7 resolution × ratio, legacy size, image tiers, prompt overrides."""

from __future__ import annotations

from dataclasses import replace

from tests.support.tasks import make_task

from videosynth.api.dashscope_wire import read_create_body
from videosynth.domain.catalog import Protocol
from videosynth.domain.draft import TierRatio
from videosynth.domain.rerun import create_body

REQUEST = make_task().request


def test_a_wan27_request_is_sent_as_resolution_and_ratio_with_its_seed() -> None:
    assert create_body(REQUEST, 7, Protocol.WAN27) == {
        "model": "wan2.7-t2v",
        "input": {"prompt": REQUEST.prompt, "negative_prompt": "blurry"},
        "parameters": {
            "duration": 5,
            "seed": 7,
            "prompt_extend": True,
            "watermark": False,
            "resolution": "720P",
            "ratio": "16:9",
        },
    }


def test_a_legacy_request_is_sent_as_its_size_without_an_empty_negative_prompt() -> None:
    body = create_body(replace(REQUEST, model="wan2.6-t2v", negative_prompt=""), 7, Protocol.LEGACY)
    assert body["input"] == {"prompt": REQUEST.prompt}
    assert body["parameters"]["size"] == "1280*720" and "resolution" not in body["parameters"]


def test_an_image_request_names_its_frames_and_tier_and_a_rerun_replaces_the_prompt() -> None:
    frames = replace(
        REQUEST,
        model="wan2.7-i2v",
        first_frame_url="https://example.com/a.png",
        last_frame_url="https://example.com/b.png",
        audio_url="https://example.com/a.mp3",
    )
    body = create_body(frames, 7, Protocol.WAN27, prompt="a rewritten prompt", prompt_extend=False)
    assert body["input"] == {
        "prompt": "a rewritten prompt",
        "negative_prompt": "blurry",
        "audio_url": "https://example.com/a.mp3",
        "first_frame_url": "https://example.com/a.png",
        "last_frame_url": "https://example.com/b.png",
    }
    assert body["parameters"]["resolution"] == "720P" and "ratio" not in body["parameters"]
    assert body["parameters"]["prompt_extend"] is False


def test_the_body_reads_back_as_the_same_request() -> None:
    draft = read_create_body(create_body(REQUEST, 7, Protocol.WAN27))
    assert (draft.model, draft.prompt, draft.negative_prompt) == (REQUEST.model, REQUEST.prompt, "blurry")
    assert (draft.size.tier_ratio, draft.duration, draft.seed) == (TierRatio("720P", "16:9"), 5, 7)
    assert (draft.prompt_extend, draft.watermark, draft.malformed) == (True, False, None)
