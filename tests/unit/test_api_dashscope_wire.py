"""The DashScope create body, read by api/dashscope_wire.py and validated by the domain: every field × good and bad
values (api-contract.md §1.3–1.5, §1.9, §6; design.md §4).

Every rejection must carry the right class and code, and a message that names the field the DashScope way
(``input.prompt``, ``parameters.seed``) and what is allowed. The domain's own tests (test_domain_validate.py) check
the rules on neutral drafts; these check that a DashScope body reaches them intact and is answered in its words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from videosynth.api.dashscope_wire import FIELD_NAMES, read_create_body
from videosynth.domain.catalog import PUBLIC_MODELS, ModelSpec, Protocol, ServedLimit, UsageStyle
from videosynth.domain.draft import UNSET, ExactSize, Field, GenerationDraft, SizeByModel, TierRatio
from videosynth.domain.errors import EmptyInput, EmptyModel, InvalidField, InvalidParameter, ModelNotFound
from videosynth.domain.request import GenerationRequest, RequestDefaults
from videosynth.domain.validate import validate_draft


def parse_create_body(
    body: object,
    defaults: RequestDefaults = RequestDefaults(),  # noqa: B008  # frozen, so one shared instance is safe
    models: Mapping[str, ModelSpec] = PUBLIC_MODELS,
) -> GenerationRequest:
    """A body as the create route takes it: read by the DashScope wire, then validated by the domain."""
    return validate_draft(read_create_body(body), defaults, models)


_MISSING = object()


def body(
    model: object = "wan2.7-t2v",
    prompt: object = "a lighthouse at dusk",
    *,
    inputs: Mapping[str, Any] | None = None,
    **params: Any,
) -> dict[str, Any]:
    """A valid create body; ``prompt=_MISSING`` drops the key, ``inputs`` adds input keys."""
    data: dict[str, Any] = {"model": model, "input": {}}
    if prompt is not _MISSING:
        data["input"]["prompt"] = prompt
    data["input"].update(inputs or {})
    if params:
        data["parameters"] = params
    return data


def rejected(
    data: object,
    *fragments: str,
    cls: type[InvalidParameter] = InvalidParameter,
    code: str = "InvalidParameter",
    **kwargs: Any,
) -> InvalidParameter:
    with pytest.raises(InvalidParameter) as info:
        parse_create_body(data, **kwargs)
    err = info.value
    # A bad field value is an InvalidField (InvalidParameter with the field's neutral name); layout faults are not.
    assert type(err) is cls or (cls is InvalidParameter and type(err) is InvalidField)
    assert err.code == code
    for fragment in fragments:
        assert fragment in err.message, (fragment, err.message)
    return err


# ------------------------------------------------------------------------------------ defaults and shape


def test_minimal_wan27_body_gets_the_defaults() -> None:
    req = parse_create_body({"model": "wan2.7-t2v", "input": {"prompt": "a lighthouse"}})
    assert req == GenerationRequest(
        model="wan2.7-t2v",
        prompt="a lighthouse",
        negative_prompt="",
        width=1280,
        height=720,
        resolution="720P",
        ratio="16:9",
        duration=5,
        seed=None,
        prompt_extend=True,
        watermark=False,
        audio_url=None,
        prompt_truncated=False,
        negative_prompt_truncated=False,
    )


def test_full_wan27_body_is_taken_as_given() -> None:
    req = parse_create_body(
        {
            "model": "wan2.7-t2v-2026-04-25",
            "input": {"prompt": "p", "negative_prompt": "花朵", "audio_url": "https://example.com/a.mp3"},
            "parameters": {
                "resolution": "1080P",
                "ratio": "3:4",
                "duration": 15,
                "prompt_extend": False,
                "watermark": True,
                "seed": 12345,
            },
        }
    )
    assert (req.model, req.prompt, req.negative_prompt) == ("wan2.7-t2v-2026-04-25", "p", "花朵")
    assert (req.width, req.height, req.resolution, req.ratio) == (1248, 1648, "1080P", "3:4")
    assert (req.duration, req.seed, req.prompt_extend, req.watermark) == (15, 12345, False, True)
    assert req.audio_url == "https://example.com/a.mp3"


def test_defaults_come_from_request_defaults() -> None:
    defaults = RequestDefaults(resolution="1080P", ratio="1:1", prompt_extend=False, watermark=True)
    req = parse_create_body(body(), defaults)
    assert (req.resolution, req.ratio, req.width, req.height) == ("1080P", "1:1", 1440, 1440)
    assert (req.prompt_extend, req.watermark) == (False, True)


def test_request_defaults_values() -> None:
    assert RequestDefaults() == RequestDefaults(resolution="720P", ratio="16:9", prompt_extend=True, watermark=False)


def test_parameters_null_means_defaults() -> None:
    data = body()
    data["parameters"] = None
    assert parse_create_body(data).duration == 5


def test_empty_parameters_object_means_defaults() -> None:
    data = body()
    data["parameters"] = {}
    assert parse_create_body(data) == parse_create_body(body())


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ("input", "extend_prompt", True),
        ("input", "function", "video-synthesis"),
        ("input", "template", "flying"),  # wanx2.1 effect templates: not served
        ("parameters", "with_audio", True),
        ("parameters", "shot_type", "multi"),
        ("parameters", "audio", False),
        ("parameters", "audio_setting", {"x": 1}),
        ("parameters", "n", 3),
        ("top", "stream", True),
        ("top", "task", "video-generation"),
    ],
)
def test_unknown_fields_are_ignored(where: str, key: str, value: object) -> None:
    data = body(duration=6)
    target = data if where == "top" else data[where]
    target[key] = value
    assert parse_create_body(data) == parse_create_body(body(duration=6))


@pytest.mark.parametrize(
    "payload",
    [[], [{"model": "wan2.7-t2v"}], "a string", "", 1, 1.5, True, None, ("model",)],
    ids=["empty-list", "list", "string", "empty-string", "int", "float", "bool", "null", "tuple"],
)
def test_body_must_be_an_object(payload: object) -> None:
    rejected(payload, "request body must be a JSON object")


def test_body_type_is_described() -> None:
    rejected([], "got [] (a list)")
    rejected(None, "got null")
    rejected(("m",), "got ('m',) (tuple)")


# ------------------------------------------------------------------------------------------------- model


def test_missing_model_is_empty_model() -> None:
    data = body()
    del data["model"]
    err = rejected(data, cls=EmptyModel, code="BadRequest.EmptyModel")
    assert err.message == "Required parameter 'model' missing from request."


@pytest.mark.parametrize("value", [None, ""], ids=["null", "empty"])
def test_null_or_empty_model_is_empty_model(value: object) -> None:
    rejected(body(model=value), "model", cls=EmptyModel, code="BadRequest.EmptyModel")


@pytest.mark.parametrize(
    "name", ["wan2.8-t2v", "WAN2.7-T2V", "wan2.7-t2v ", "sora-2", "wan2.7-i2v-x", "wan2.2-t2v-plus-x"]
)
def test_unknown_model_is_model_not_exist(name: str) -> None:
    err = rejected(body(model=name), cls=ModelNotFound)
    assert err.message == "Model not exist."


@pytest.mark.parametrize("value", [123, True, False, 0, ["wan2.7-t2v"], {"name": "wan2.7-t2v"}])
def test_non_string_model_is_invalid_parameter(value: object) -> None:
    rejected(body(model=value), "'model' must be a string")


@pytest.mark.parametrize("name", sorted(PUBLIC_MODELS))
def test_every_public_model_is_accepted_with_defaults(name: str) -> None:
    spec = PUBLIC_MODELS[name]
    data = body(model=name)
    if spec.takes_images:
        data["input"]["img_url"] = "https://example.com/first.png"
    req = parse_create_body(data)
    assert req.model == name
    assert req.duration == 5
    if spec.protocol is Protocol.WAN27:
        assert (req.width, req.height) == (1280, 720)
    else:
        assert (req.width, req.height) == spec.default_size


def test_the_given_models_are_the_ones_served() -> None:
    local = ModelSpec("local-tiny", Protocol.WAN27, UsageStyle.WAN27, 10, (2, 3))
    registry = {"local-tiny": local}
    with pytest.raises(ModelNotFound):
        parse_create_body(body(model="wan2.7-t2v"), models=registry)
    req = parse_create_body(body(model="local-tiny", prompt="x" * 11, duration=3), models=registry)
    assert (req.prompt, req.prompt_truncated, req.duration) == ("x" * 10, True, 3)


def test_model_is_checked_before_input() -> None:
    rejected({"model": "nope"}, cls=ModelNotFound)
    rejected({"input": {"prompt": "x"}}, cls=EmptyModel, code="BadRequest.EmptyModel")


# ------------------------------------------------------------------------------------------ input object


def test_missing_input_is_empty_input() -> None:
    err = rejected({"model": "wan2.7-t2v"}, cls=EmptyInput, code="BadRequest.EmptyInput")
    assert err.message == "Required parameter 'input' missing from request."


def test_null_input_is_empty_input() -> None:
    rejected({"model": "wan2.7-t2v", "input": None}, cls=EmptyInput, code="BadRequest.EmptyInput")


@pytest.mark.parametrize("value", [[], ["a"], "a prompt", "", 0, 1, True, False, 1.5])
def test_input_must_be_an_object(value: object) -> None:
    rejected({"model": "wan2.7-t2v", "input": value}, "'input' must be a JSON object")


@pytest.mark.parametrize("value", [[], ["a"], "720P", "", 0, 1, True, False, 1.5])
def test_parameters_must_be_an_object(value: object) -> None:
    data = body()
    data["parameters"] = value
    rejected(data, "'parameters' must be a JSON object")


# ------------------------------------------------------------------------------------------------ prompt


@pytest.mark.parametrize(
    "value",
    [_MISSING, "", "   ", "\n\t ", 123, None, ["a"], {"text": "a"}, True],
    ids=["missing", "empty", "spaces", "whitespace", "int", "null", "list", "object", "bool"],
)
def test_prompt_required_non_empty_string(value: object) -> None:
    rejected(body(prompt=value), "input.prompt", "required", "non-empty string")


@pytest.mark.parametrize(
    ("model", "limit"),
    [
        ("wan2.7-t2v", 5000),
        ("wan2.7-t2v-2026-04-25", 5000),
        ("wan2.6-t2v", 1500),
        ("wan2.6-t2v-us", 1500),
        ("wan2.5-t2v-preview", 1500),
        ("wan2.2-t2v-plus", 800),
        ("wanx2.1-t2v-turbo", 800),
        ("wanx2.1-t2v-plus", 800),
        ("wan2.1-t2v-turbo", 800),
        ("wan2.1-t2v-plus", 800),
    ],
)
def test_prompt_is_cut_to_the_model_limit(model: str, limit: int) -> None:
    exact = parse_create_body(body(model=model, prompt="字" * limit))
    assert (exact.prompt, exact.prompt_truncated) == ("字" * limit, False)
    over = parse_create_body(body(model=model, prompt="字" * limit + "ab"))
    assert (over.prompt, over.prompt_truncated) == ("字" * limit, True)
    assert over.negative_prompt_truncated is False


def test_prompt_keeps_its_whitespace() -> None:
    assert parse_create_body(body(prompt="  a cat  ")).prompt == "  a cat  "


# --------------------------------------------------------------------------------------- negative_prompt


@pytest.mark.parametrize("value", [_MISSING, None, ""], ids=["missing", "null", "empty"])
def test_negative_prompt_is_optional(value: object) -> None:
    inputs = {} if value is _MISSING else {"negative_prompt": value}
    req = parse_create_body(body(inputs=inputs))
    assert (req.negative_prompt, req.negative_prompt_truncated) == ("", False)


def test_negative_prompt_is_cut_to_500() -> None:
    exact = parse_create_body(body(inputs={"negative_prompt": "n" * 500}))
    assert (exact.negative_prompt, exact.negative_prompt_truncated) == ("n" * 500, False)
    over = parse_create_body(body(inputs={"negative_prompt": "n" * 500 + "extra"}))
    assert (over.negative_prompt, over.negative_prompt_truncated) == ("n" * 500, True)
    assert over.prompt_truncated is False


def test_both_prompts_cut_together() -> None:
    req = parse_create_body(body(prompt="p" * 5001, inputs={"negative_prompt": "n" * 501}))
    assert (len(req.prompt), len(req.negative_prompt)) == (5000, 500)
    assert req.prompt_truncated and req.negative_prompt_truncated


@pytest.mark.parametrize("value", [123, True, ["a"], {"a": 1}])
def test_negative_prompt_must_be_a_string(value: object) -> None:
    err = rejected(body(inputs={"negative_prompt": value}), "input.negative_prompt", "must be a string")
    assert "required" not in err.message


# --------------------------------------------------------------------------------------------- audio_url


@pytest.mark.parametrize("url", ["http://example.com/a.wav", "https://example.com/a.mp3", "HTTPS://EXAMPLE.COM/A.MP3"])
def test_audio_url_http_or_https(url: str) -> None:
    assert parse_create_body(body(inputs={"audio_url": url})).audio_url == url


def test_audio_url_null_is_none() -> None:
    assert parse_create_body(body(inputs={"audio_url": None})).audio_url is None


@pytest.mark.parametrize(
    "value",
    [
        "ftp://example.com/a.mp3",
        "file:///etc/passwd",
        "example.com/a.mp3",
        "",
        "httpx://a",
        123,
        True,
        ["http://a"],
    ],
)
def test_audio_url_rejected(value: object) -> None:
    rejected(body(inputs={"audio_url": value}), "input.audio_url", "http(s) URL")


# ------------------------------------------------------------------------------------- resolution, ratio

WAN27_EXPECTED = [
    ("720P", "16:9", 1280, 720),
    ("720P", "9:16", 720, 1280),
    ("720P", "1:1", 960, 960),
    ("720P", "4:3", 1104, 832),
    ("720P", "3:4", 832, 1104),
    ("1080P", "16:9", 1920, 1080),
    ("1080P", "9:16", 1080, 1920),
    ("1080P", "1:1", 1440, 1440),
    ("1080P", "4:3", 1648, 1248),
    ("1080P", "3:4", 1248, 1648),
]


@pytest.mark.parametrize(("resolution", "ratio", "width", "height"), WAN27_EXPECTED)
def test_wan27_resolution_ratio_gives_official_size(resolution: str, ratio: str, width: int, height: int) -> None:
    req = parse_create_body(body(resolution=resolution, ratio=ratio))
    assert (req.width, req.height, req.resolution, req.ratio) == (width, height, resolution, ratio)


@pytest.mark.parametrize("value", ["720p", "1080p"])
def test_lowercase_resolution_rejected_with_uppercase_hint(value: str) -> None:
    rejected(body(resolution=value), "parameters.resolution", "'720P', '1080P'", "uppercase", repr(value))


@pytest.mark.parametrize("value", ["480P", "4K", "1280*720", "", " 720P", 720, 1080, None, True, ["720P"]])
def test_other_resolutions_rejected(value: object) -> None:
    err = rejected(body(resolution=value), "parameters.resolution", "must be one of '720P', '1080P'")
    assert "uppercase" not in err.message


@pytest.mark.parametrize("value", ["16:10", "21:9", "16x9", "16/9", "", "1:1 ", 1.0, None, ["16:9"]])
def test_ratio_rejected(value: object) -> None:
    rejected(body(ratio=value), "parameters.ratio", "'16:9', '9:16', '1:1', '4:3', '3:4'")


def test_wan27_ignores_legacy_size() -> None:
    req = parse_create_body(body(size="1920*1080"))
    assert (req.width, req.height) == (1280, 720)


# ------------------------------------------------------------------------------------------- legacy size

LEGACY_CASES = [
    # model, size, tier, ratio
    ("wan2.6-t2v", "1280*720", "720P", "16:9"),
    ("wan2.6-t2v", "720*1280", "720P", "9:16"),
    ("wan2.6-t2v", "960*960", "720P", "1:1"),
    ("wan2.6-t2v", "1088*832", "720P", "4:3"),
    ("wan2.6-t2v", "832*1088", "720P", "3:4"),
    ("wan2.6-t2v", "1920*1080", "1080P", "16:9"),
    ("wan2.6-t2v", "1080*1920", "1080P", "9:16"),
    ("wan2.6-t2v", "1440*1440", "1080P", "1:1"),
    ("wan2.6-t2v", "1632*1248", "1080P", "4:3"),
    ("wan2.6-t2v", "1248*1632", "1080P", "3:4"),
    ("wan2.5-t2v-preview", "832*480", "480P", "16:9"),
    ("wan2.5-t2v-preview", "480*832", "480P", "9:16"),
    ("wan2.5-t2v-preview", "624*624", "480P", "1:1"),
    ("wan2.5-t2v-preview", "1088*832", "720P", "4:3"),
    ("wan2.5-t2v-preview", "1632*1248", "1080P", "4:3"),
    ("wan2.2-t2v-plus", "832*480", "480P", "16:9"),
    ("wan2.2-t2v-plus", "1248*1632", "1080P", "3:4"),
    ("wanx2.1-t2v-turbo", "480*832", "480P", "9:16"),
    ("wanx2.1-t2v-turbo", "832*1088", "720P", "3:4"),
    ("wanx2.1-t2v-plus", "1280*720", "720P", "16:9"),
    ("wanx2.1-t2v-plus", "960*960", "720P", "1:1"),
]


@pytest.mark.parametrize(("model", "size", "tier", "ratio"), LEGACY_CASES)
def test_legacy_size_from_its_tiers(model: str, size: str, tier: str, ratio: str) -> None:
    req = parse_create_body(body(model=model, size=size))
    width, height = (int(x) for x in size.split("*"))
    assert (req.width, req.height, req.resolution, req.ratio) == (width, height, tier, ratio)


@pytest.mark.parametrize(
    ("model", "width", "height", "tier"),
    [
        ("wan2.6-t2v", 1920, 1080, "1080P"),
        ("wan2.6-t2v-us", 1920, 1080, "1080P"),
        ("wan2.5-t2v-preview", 1920, 1080, "1080P"),
        ("wan2.2-t2v-plus", 1920, 1080, "1080P"),
        ("wanx2.1-t2v-turbo", 1280, 720, "720P"),
        ("wanx2.1-t2v-plus", 1280, 720, "720P"),
        ("wan2.1-t2v-turbo", 1280, 720, "720P"),
        ("wan2.1-t2v-plus", 1280, 720, "720P"),
    ],
)
def test_legacy_default_size(model: str, width: int, height: int, tier: str) -> None:
    for data in (body(model=model), body(model=model, size=None)):
        req = parse_create_body(data)
        assert (req.width, req.height, req.resolution, req.ratio) == (width, height, tier, "16:9")


@pytest.mark.parametrize(
    ("model", "size"),
    [
        ("wan2.6-t2v", "832*480"),  # 480P is not a wan2.6 tier
        ("wan2.6-t2v", "1104*832"),  # the wan2.7 4:3 size, not the legacy one
        ("wan2.6-t2v", "1648*1248"),
        ("wan2.2-t2v-plus", "1280*720"),  # wan2.2 has no 720P
        ("wanx2.1-t2v-turbo", "1920*1080"),
        ("wanx2.1-t2v-plus", "832*480"),
        ("wan2.5-t2v-preview", "1000*1000"),
        ("wan2.6-t2v", "1280x720"),
        ("wan2.6-t2v", "720P"),
        ("wan2.6-t2v", "16:9"),
        ("wan2.6-t2v", "1280*720*1"),
        ("wan2.6-t2v", "*720"),
        ("wan2.6-t2v", "1280*"),
        ("wan2.6-t2v", " 1280*720"),
        ("wan2.6-t2v", "1280 * 720"),
        ("wan2.6-t2v", "-1280*720"),
        ("wan2.6-t2v", ""),
        ("wan2.6-t2v", "²*720"),  # str.isdigit() is true for superscripts, int() is not
        ("wan2.6-t2v", "１２８０*７２０"),  # full-width digits
        ("wan2.6-t2v", 1280),
        ("wan2.6-t2v", [1280, 720]),
        ("wan2.6-t2v", {"width": 1280, "height": 720}),
    ],
)
def test_legacy_size_rejected_listing_allowed(model: str, size: object) -> None:
    spec = PUBLIC_MODELS[model]
    allowed = [f"'{w}*{h}'" for w, h in spec.allowed_sizes()]
    err = rejected(body(model=model, size=size), f"parameters.size for model {model}", "width*height", *allowed)
    assert err.message.count("*") >= len(allowed)


def test_legacy_size_message_lists_exactly_the_tier_sizes() -> None:
    err = rejected(body(model="wanx2.1-t2v-plus", size="1280x720"))
    assert err.message == (
        "parameters.size for model wanx2.1-t2v-plus must be one of '1280*720', '720*1280', '960*960', "
        "'1088*832', '832*1088' (width*height), got '1280x720' (a string)."
    )


def test_legacy_ignores_resolution_and_ratio() -> None:
    req = parse_create_body(body(model="wan2.6-t2v", resolution="720P", ratio="1:1"))
    assert (req.width, req.height, req.resolution, req.ratio) == (1920, 1080, "1080P", "16:9")


# ---------------------------------------------------------------------------------------------- duration


@pytest.mark.parametrize("value", list(range(2, 16)))
def test_wan27_duration_2_to_15(value: int) -> None:
    assert parse_create_body(body(duration=value)).duration == value


@pytest.mark.parametrize(
    "value",
    ["5", 5.5, 5.0, True, False, 1, 0, -5, 16, 100, None, [5], {"s": 5}],
    ids=["str", "5.5", "5.0", "true", "false", "1", "0", "neg", "16", "100", "null", "list", "object"],
)
def test_wan27_duration_rejected(value: object) -> None:
    rejected(body(duration=value), "parameters.duration", "wan2.7-t2v", "an integer from 2 to 15 (seconds)")


def test_duration_message_describes_the_bad_value() -> None:
    rejected(body(duration="5"), "got '5' (a string)")
    rejected(body(duration=5.0), "got 5.0 (a number)")
    rejected(body(duration=True), "got True (a boolean)")
    rejected(body(duration=None), "got null")
    rejected(body(duration=16), "got 16 (an integer)")
    rejected(body(duration={"s": 5}), "(an object)")


@pytest.mark.parametrize(
    ("model", "good", "bad", "allowed"),
    [
        ("wan2.6-t2v", list(range(2, 16)), [1, 16, 5.0, "5"], "an integer from 2 to 15 (seconds)"),
        ("wan2.6-t2v-us", [5, 10], [2, 6, 15, 10.0], "one of the integers 5, 10 (seconds)"),
        ("wan2.5-t2v-preview", [5, 10], [2, 4, 6, 9, 11, 15, "10"], "one of the integers 5, 10 (seconds)"),
        ("wan2.2-t2v-plus", [5], [2, 4, 6, 10, 15], "the integer 5 (seconds)"),
        ("wanx2.1-t2v-turbo", [5], [4, 6, 10], "the integer 5 (seconds)"),
        ("wanx2.1-t2v-plus", [5], [4, 6, 10], "the integer 5 (seconds)"),
        ("wan2.1-t2v-turbo", [5], [10], "the integer 5 (seconds)"),
        ("wan2.1-t2v-plus", [5], [10], "the integer 5 (seconds)"),
    ],
)
def test_legacy_duration_rules(model: str, good: list[int], bad: list[object], allowed: str) -> None:
    for value in good:
        assert parse_create_body(body(model=model, duration=value)).duration == value
    for bad_value in bad:
        rejected(body(model=model, duration=bad_value), "parameters.duration", f"model {model}", allowed)


# -------------------------------------------------------------------------------------------------- seed


@pytest.mark.parametrize("value", [0, 1, 12345, 2147483646, 2147483647])
def test_seed_accepted(value: int) -> None:
    req = parse_create_body(body(seed=value))
    assert req.seed == value
    assert type(req.seed) is int


def test_seed_absent_or_null_is_random() -> None:
    assert parse_create_body(body()).seed is None
    assert parse_create_body(body(seed=None)).seed is None


@pytest.mark.parametrize(
    "value",
    [-1, 2147483648, 2**63, "1", True, False, 1.0, 1.5, [1]],
    ids=["-1", "max+1", "2^63", "str", "true", "false", "1.0", "1.5", "list"],
)
def test_seed_rejected(value: object) -> None:
    rejected(body(seed=value), "parameters.seed", "an integer from 0 to 2147483647")


# ---------------------------------------------------------------------------------------------- booleans


def _param(field: str, value: object) -> dict[str, Any]:
    return {field: value}


@pytest.mark.parametrize("field", ["watermark", "prompt_extend"])
@pytest.mark.parametrize("value", [True, False])
def test_booleans_accepted(field: str, value: bool) -> None:
    req = parse_create_body(body(**_param(field, value)))
    assert getattr(req, field) is value


@pytest.mark.parametrize("field", ["watermark", "prompt_extend"])
@pytest.mark.parametrize(
    "value",
    ["true", "false", 1, 0, None, "", [True]],
    ids=["'true'", "'false'", "1", "0", "null", "empty", "list"],
)
def test_booleans_rejected(field: str, value: object) -> None:
    rejected(body(**_param(field, value)), f"parameters.{field}", "must be a boolean (true or false)")


# --------------------------------------------------------------------------------------------------- NUL


@pytest.mark.parametrize("field", ["prompt", "negative_prompt"])
def test_nul_characters_are_refused(field: str) -> None:
    inputs = {"prompt": "a cat", field: "a\x00cat"}
    with pytest.raises(InvalidParameter) as caught:
        parse_create_body({"model": "wan2.7-t2v", "input": inputs})
    assert caught.value.code == "InvalidParameter"
    assert f"input.{field}" in caught.value.message and "NUL" in caught.value.message


def test_prompt_blank_after_truncation_is_refused() -> None:
    with pytest.raises(InvalidParameter) as caught:
        parse_create_body({"model": "wan2.7-t2v", "input": {"prompt": " " * 5000 + "x"}})
    assert "input.prompt" in caught.value.message


# ------------------------------------------------------------------------------------ the wire itself


def test_a_full_body_is_read_into_the_neutral_draft_as_sent() -> None:
    draft = read_create_body(
        {
            "model": "wan2.7-t2v",
            "input": {"prompt": "p", "negative_prompt": "n", "audio_url": "https://a/x.mp3", "function": "f"},
            "parameters": {
                "resolution": "720p",
                "ratio": "1:1",
                "size": "1280*720",
                "duration": "5",
                "seed": 7,
                "prompt_extend": False,
                "watermark": 1,
                "with_audio": True,
            },
        }
    )
    assert draft == GenerationDraft(
        model="wan2.7-t2v",
        prompt="p",
        negative_prompt="n",
        audio_url="https://a/x.mp3",
        size=SizeByModel(TierRatio("720p", "1:1"), ExactSize("1280*720", separator="*")),
        duration="5",
        seed=7,
        prompt_extend=False,
        watermark=1,
        names=FIELD_NAMES,
    )


def test_what_a_body_leaves_out_is_unset_and_null_stays_null() -> None:
    draft = read_create_body({"model": "wan2.7-t2v", "input": {"prompt": None}, "parameters": {"seed": None}})
    assert (draft.prompt, draft.seed) == (None, None)
    assert draft.negative_prompt is draft.duration is draft.watermark is UNSET
    assert draft.size == SizeByModel(TierRatio(), ExactSize())
    assert read_create_body({"input": {"prompt": "p"}}).model is UNSET


def test_every_field_has_its_dashscope_name() -> None:
    assert set(FIELD_NAMES) == set(Field)
    assert FIELD_NAMES[Field.SEED] == "parameters.seed" and FIELD_NAMES[Field.PROMPT] == "input.prompt"


def test_a_layout_fault_waits_in_the_draft_for_the_model_check() -> None:
    draft = read_create_body({"model": "nope", "input": "a cat"})
    assert draft.model == "nope" and isinstance(draft.malformed, InvalidParameter)
    assert draft.malformed.message == "'input' must be a JSON object, got 'a cat' (a string)."
    rejected({"model": "nope", "input": "a cat"}, cls=ModelNotFound)
    rejected({"model": "nope", "parameters": []}, cls=ModelNotFound)
    assert isinstance(read_create_body({"model": "m"}).malformed, EmptyInput)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (body(model=1), "model", "'model' must be a string, got 1 (an integer)."),
        (body(prompt=" "), "prompt", "input.prompt is required and must be a non-empty string, got ' ' (a string)."),
        (
            body(inputs={"negative_prompt": 1}),
            "negative_prompt",
            "input.negative_prompt must be a string, got 1 (an integer).",
        ),
        (
            body(inputs={"audio_url": "ftp://a"}),
            "audio_url",
            "input.audio_url must be an http(s) URL or an oss:// upload, got 'ftp://a' (a string).",
        ),
        (
            body(resolution="720p"),
            "resolution",
            "parameters.resolution must be one of '720P', '1080P', got '720p' (a string). "
            "Values are case-sensitive: use uppercase, e.g. '720P'.",
        ),
        (
            body(ratio="21:9"),
            "ratio",
            "parameters.ratio must be one of '16:9', '9:16', '1:1', '4:3', '3:4', got '21:9' (a string).",
        ),
        (
            body(duration=16),
            "duration",
            "parameters.duration for model wan2.7-t2v must be an integer from 2 to 15 (seconds), got 16 (an integer).",
        ),
        (
            body(model="wan2.5-t2v-preview", duration=6),
            "duration",
            "parameters.duration for model wan2.5-t2v-preview must be one of the integers 5, 10 (seconds), "
            "got 6 (an integer).",
        ),
        (body(seed=-1), "seed", "parameters.seed must be an integer from 0 to 2147483647, got -1 (an integer)."),
        (
            body(prompt_extend="true"),
            "prompt_extend",
            "parameters.prompt_extend must be a boolean (true or false), got 'true' (a string).",
        ),
        (body(watermark=None), "watermark", "parameters.watermark must be a boolean (true or false), got null."),
    ],
    ids=lambda value: value if isinstance(value, str) and len(value) < 20 else None,
)
def test_field_messages_word_for_word(data: dict[str, Any], field: str, message: str) -> None:
    err = rejected(data)
    assert isinstance(err, InvalidField) and err.field == field
    assert err.message == message


def test_structural_messages_word_for_word() -> None:
    assert rejected([]).message == "The request body must be a JSON object, got [] (a list)."
    assert rejected({"model": "wan2.7-t2v", "input": 1}).message == "'input' must be a JSON object, got 1 (an integer)."
    data = {**body(), "parameters": "x"}
    assert rejected(data).message == "'parameters' must be a JSON object, got 'x' (a string)."


def test_a_served_limit_is_answered_in_dashscope_words() -> None:
    limit = ServedLimit(5, "the checkpoint serving it makes at most 81 frames at 16 fps")
    models = {name: replace(spec, limit=limit) for name, spec in PUBLIC_MODELS.items()}
    err = rejected(body(duration=6), models=models)
    assert err.message == (
        "parameters.duration for model wan2.7-t2v must be an integer from 2 to 5 (seconds) on this server "
        "(the checkpoint serving it makes at most 81 frames at 16 fps), got 6 (an integer)."
    )
    assert parse_create_body(body(duration=5), models=models).duration == 5
