"""GenerationRequest as stored with each task: its JSON form, and rows written by earlier releases."""

from __future__ import annotations

import pytest

from videosynth.domain.draft import ExactSize, GenerationDraft
from videosynth.domain.request import GenerationRequest, RequestDefaults
from videosynth.domain.validate import validate_draft


def _sample() -> GenerationRequest:
    return validate_draft(
        GenerationDraft(
            model="wan2.6-t2v",
            prompt="p" * 1600,
            negative_prompt="n" * 501,
            audio_url="https://example.com/a.wav",
            size=ExactSize("1632*1248"),
            duration=7,
            seed=7,
            watermark=True,
            prompt_extend=False,
        )
    )


def _minimal() -> GenerationRequest:
    return validate_draft(GenerationDraft(model="wan2.7-t2v", prompt="a lighthouse at dusk"))


def test_request_defaults_values() -> None:
    assert RequestDefaults() == RequestDefaults(resolution="720P", ratio="16:9", prompt_extend=True, watermark=False)


def test_to_dict_has_every_field() -> None:
    data = _sample().to_dict()
    assert data == {
        "model": "wan2.6-t2v",
        "prompt": "p" * 1500,
        "negative_prompt": "n" * 500,
        "width": 1632,
        "height": 1248,
        "resolution": "1080P",
        "ratio": "4:3",
        "duration": 7,
        "seed": 7,
        "prompt_extend": False,
        "watermark": True,
        "audio_url": "https://example.com/a.wav",
        "first_frame_url": None,
        "last_frame_url": None,
        "prompt_truncated": True,
        "negative_prompt_truncated": True,
        "remixed_from": None,
    }


def test_to_dict_from_dict_roundtrip() -> None:
    for req in (_sample(), _minimal()):
        assert GenerationRequest.from_dict(req.to_dict()) == req


def test_from_dict_ignores_unknown_keys_and_defaults_optional_ones() -> None:
    data = _minimal().to_dict()
    for key in ("audio_url", "prompt_truncated", "negative_prompt_truncated", "remixed_from"):
        del data[key]
    data["added_later"] = "ignored"
    assert GenerationRequest.from_dict(data) == _minimal()


def test_from_dict_missing_required_key_fails() -> None:
    data = _minimal().to_dict()
    del data["prompt"]
    with pytest.raises(TypeError):
        GenerationRequest.from_dict(data)


def test_a_row_stored_before_the_neutral_draft_still_reads() -> None:
    # request_json of a task written by the release before drafts existed, as the store holds it.
    stored = {
        "model": "wan2.7-t2v",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "",
        "width": 1280,
        "height": 720,
        "resolution": "720P",
        "ratio": "16:9",
        "duration": 5,
        "seed": None,
        "prompt_extend": True,
        "watermark": False,
        "audio_url": None,
        "prompt_truncated": False,
        "negative_prompt_truncated": False,
    }
    assert GenerationRequest.from_dict(stored) == _minimal()
    no_later_fields = {"remixed_from": None, "first_frame_url": None, "last_frame_url": None}
    assert GenerationRequest.from_dict(stored).to_dict() == {**stored, **no_later_fields}
