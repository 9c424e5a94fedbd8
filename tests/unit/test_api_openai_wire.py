"""OpenAI's create body read into the neutral draft, and its error shape."""

from __future__ import annotations

import pytest

from videosynth.api.errors import ApiError
from videosynth.api.openai_routes import render_openai_error
from videosynth.api.openai_wire import read_create_body, remix_draft
from videosynth.domain.catalog import PUBLIC_MODELS
from videosynth.domain.draft import ExactSize
from videosynth.domain.errors import InvalidField, InvalidParameter
from videosynth.domain.validate import validate_draft

MODELS = tuple(PUBLIC_MODELS)


def read(body: object, files: tuple[str, ...] = ()) -> object:
    return read_create_body(body, MODELS, "wan2.7-t2v", files)


def test_form_strings_become_the_request() -> None:
    draft = read_create_body(
        {"prompt": "p", "model": "sora-2", "seconds": "8", "size": "720x1280", "seed": "7", "watermark": "true"},
        MODELS,
        "wan2.7-t2v",
    )
    request = validate_draft(draft)
    assert (request.model, request.duration, request.width, request.height) == ("wan2.7-t2v", 8, 720, 1280)
    assert (request.resolution, request.ratio, request.seed, request.watermark) == ("720P", "9:16", 7, True)


def test_one_of_our_models_is_kept_and_legacy_sizes_read_with_an_x() -> None:
    body = {"prompt": "p", "model": "wan2.2-t2v-plus", "size": "832x480"}
    request = validate_draft(read_create_body(body, MODELS, "x"))
    assert (request.model, request.width, request.height) == ("wan2.2-t2v-plus", 832, 480)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "p", "size": "1001x1000"}, "size"),
        ({"prompt": "p", "seconds": "99"}, "seconds"),
        ({"prompt": "p", "seconds": "four"}, "seconds"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": "p", "seed": "-1"}, "seed"),
        ({"prompt": "p", "prompt_extend": "maybe"}, "prompt_extend"),
    ],
)
def test_a_bad_field_is_named_the_openai_way(body: dict[str, str], param: str) -> None:
    with pytest.raises(InvalidField) as fault:
        validate_draft(read_create_body(body, MODELS, "wan2.7-t2v"))
    assert fault.value.message.startswith(param)
    error = ApiError("r", fault.value.code, fault.value.message, 400, fault.value.field)
    rendered = render_openai_error(error)["error"]
    assert rendered["param"] == param and rendered["type"] == "invalid_request_error"


def test_input_reference_upload_is_refused_and_a_t2v_model_takes_no_image() -> None:
    with pytest.raises(InvalidField, match="input_reference as a file upload"):
        read({"prompt": "p"}, files=("input_reference",))
    with pytest.raises(InvalidField, match=r"input_reference is not taken by model wan2\.7-t2v"):
        validate_draft(read({"prompt": "p", "input_reference": {"image_url": "https://x/y.png"}}))
    with pytest.raises(InvalidParameter, match="JSON object"):
        read(["not", "an", "object"])


def test_a_remix_keeps_the_source_parameters() -> None:
    source = validate_draft(read({"prompt": "old", "seconds": "3", "size": "1280x720", "negative_prompt": "blur"}))
    draft = remix_draft(source, 42, "new")
    assert draft.size == ExactSize("1280x720", "x", any_size=True)
    remixed = validate_draft(draft)
    assert remixed.prompt == "new" and remixed.seed == 42
    assert (remixed.duration, remixed.width, remixed.height, remixed.negative_prompt) == (3, 1280, 720, "blur")


@pytest.mark.parametrize(
    ("code", "status", "kind", "openai_code"),
    [
        ("InvalidApiKey", 401, "authentication_error", "invalid_api_key"),
        ("NotFound", 404, "invalid_request_error", "not_found"),
        ("Conflict", 409, "invalid_request_error", "conflict"),
        ("Throttling.RateQuota", 429, "rate_limit_error", "rate_limit_exceeded"),
        ("InternalError", 500, "server_error", "server_error"),
        ("BadRequest.TooLarge", 413, "invalid_request_error", "BadRequest.TooLarge"),
    ],
)
def test_error_shape(code: str, status: int, kind: str, openai_code: str) -> None:
    assert render_openai_error(ApiError("r", code, "m", status)) == {
        "error": {"message": "m", "type": kind, "param": None, "code": openai_code}
    }
