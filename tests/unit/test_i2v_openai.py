"""The OpenAI dialect's input_reference: the first frame of an image-to-video model, as the DashScope one reads."""

from __future__ import annotations

import pytest

from videosynth.api.openai_wire import read_create_body, remix_draft
from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.domain.errors import InvalidField
from videosynth.domain.request import GenerationRequest
from videosynth.domain.validate import validate_draft

URL = "https://example.com/cat.png"


def create(body: dict[str, object]) -> GenerationRequest:
    return validate_draft(read_create_body(body, tuple(PUBLIC_MODELS), "wan2.7-t2v"))


@pytest.mark.parametrize("reference", [{"image_url": URL}, URL])
def test_input_reference_is_the_first_frame(reference: object) -> None:
    request = create({"model": "wan2.7-i2v", "prompt": "p", "input_reference": reference, "size": "1280x720"})
    assert (request.first_frame_url, request.resolution) == (URL, "720P")


def test_an_i2v_model_without_input_reference_is_refused_naming_it() -> None:
    with pytest.raises(InvalidField, match=r"^input_reference is required for model wan2\.7-i2v"):
        create({"model": "wan2.7-i2v", "prompt": "p"})


def test_a_remix_keeps_the_image() -> None:
    source = create({"model": "wan2.7-i2v", "prompt": "old", "input_reference": {"image_url": URL}})
    remixed = validate_draft(remix_draft(source, 7, "new"))
    assert (remixed.first_frame_url, remixed.prompt, remixed.seed) == (URL, "new", 7)
