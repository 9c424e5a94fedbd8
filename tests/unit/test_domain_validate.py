"""validate_draft: a neutral draft against its model's rules, in no dialect's words (design.md §4).

Rejections name the field by its neutral name unless the draft's ``names`` say otherwise; the DashScope words are
tested with the DashScope wire (test_api_dashscope_wire.py).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from videosynth.domain.catalog import PUBLIC_MODELS, ModelSpec, Protocol, ServedLimit, UsageStyle
from videosynth.domain.draft import UNSET, ExactSize, Field, GenerationDraft, SizeByModel, TierRatio
from videosynth.domain.errors import EmptyModel, InvalidField, InvalidParameter, ModelNotFound
from videosynth.domain.request import GenerationRequest, RequestDefaults
from videosynth.domain.validate import parse_size, validate_draft
from videosynth.domain.wording import describe


def draft(model: object = "wan2.7-t2v", prompt: object = "a lighthouse", **fields: Any) -> GenerationDraft:
    return GenerationDraft(model=model, prompt=prompt, **fields)


def refused(data: GenerationDraft, field: Field, message: str, **kwargs: Any) -> InvalidField:
    with pytest.raises(InvalidField) as info:
        validate_draft(data, **kwargs)
    assert info.value.code == "InvalidParameter"
    assert (info.value.field, info.value.message) == (field, message)
    return info.value


def limited(name: str, longest: int) -> dict[str, ModelSpec]:
    spec = replace(PUBLIC_MODELS[name], limit=ServedLimit(longest, "its checkpoint makes at most so many frames"))
    return {name: spec}


# ------------------------------------------------------------------------------------------------ whole


def test_a_minimal_draft_gets_the_defaults() -> None:
    assert validate_draft(draft()) == GenerationRequest(
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


def test_a_full_draft_is_taken_as_given() -> None:
    req = validate_draft(
        draft(
            "wan2.7-t2v-2026-04-25",
            "p",
            negative_prompt="花朵",
            audio_url="https://example.com/a.mp3",
            size=TierRatio("1080P", "3:4"),
            duration=15,
            seed=12345,
            prompt_extend=False,
            watermark=True,
        )
    )
    assert (req.model, req.prompt, req.negative_prompt, req.audio_url) == (
        "wan2.7-t2v-2026-04-25",
        "p",
        "花朵",
        "https://example.com/a.mp3",
    )
    assert (req.width, req.height, req.resolution, req.ratio) == (1248, 1648, "1080P", "3:4")
    assert (req.duration, req.seed, req.prompt_extend, req.watermark) == (15, 12345, False, True)


def test_the_server_defaults_fill_what_is_left_out() -> None:
    defaults = RequestDefaults(resolution="1080P", ratio="1:1", prompt_extend=False, watermark=True)
    req = validate_draft(draft(), defaults)
    assert (req.width, req.height, req.resolution, req.ratio) == (1440, 1440, "1080P", "1:1")
    assert (req.prompt_extend, req.watermark) == (False, True)


def test_the_draft_defaults_are_all_unset() -> None:
    empty = GenerationDraft()
    assert empty.model is empty.prompt is empty.duration is empty.seed is empty.audio_url is UNSET
    assert (empty.size, empty.names, empty.malformed) == (TierRatio(), {}, None)


# ------------------------------------------------------------------------------------------------ model


@pytest.mark.parametrize("model", [UNSET, None, ""], ids=["unset", "null", "empty"])
def test_no_model_is_empty_model(model: object) -> None:
    with pytest.raises(EmptyModel):
        validate_draft(draft(model))


@pytest.mark.parametrize("model", [1, True, ["wan2.7-t2v"]])
def test_a_model_that_is_not_a_string(model: object) -> None:
    refused(draft(model), Field.MODEL, f"model must be a string, got {describe(model)}.")


def test_an_unknown_model_is_model_not_exist() -> None:
    with pytest.raises(ModelNotFound):
        validate_draft(draft("wan2.8-t2v"))


def test_only_the_given_models_exist() -> None:
    tiny = ModelSpec("local-tiny", Protocol.WAN27, UsageStyle.WAN27, 10, (2, 3))
    req = validate_draft(draft("local-tiny", "x" * 11, duration=3), models={"local-tiny": tiny})
    assert (req.model, req.prompt, req.prompt_truncated, req.duration) == ("local-tiny", "x" * 10, True, 3)
    with pytest.raises(ModelNotFound):
        validate_draft(draft(), models={"local-tiny": tiny})


def test_a_layout_fault_comes_after_the_model_and_before_any_field() -> None:
    fault = InvalidParameter("the body is laid out wrong")
    with pytest.raises(ModelNotFound):
        validate_draft(draft("nope", malformed=fault))
    with pytest.raises(InvalidParameter) as info:
        validate_draft(draft(prompt=None, duration=99, malformed=fault))
    assert info.value is fault


# ------------------------------------------------------------------------------------------------ names


def test_a_dialect_names_its_fields_its_way() -> None:
    names = {Field.SEED: "body.seed", Field.PROMPT: "text"}
    refused(
        draft(seed=-1, names=names),
        Field.SEED,
        "body.seed must be an integer from 0 to 2147483647, got -1 (an integer).",
    )
    refused(
        draft(prompt="", names=names),
        Field.PROMPT,
        "text is required and must be a non-empty string, got '' (a string).",
    )
    refused(
        draft(watermark=0, names=names),
        Field.WATERMARK,
        "watermark must be a boolean (true or false), got 0 (an integer).",
    )


# ------------------------------------------------------------------------------------------------ texts


@pytest.mark.parametrize(
    "value", [UNSET, None, "", "  \n", 1, ["a"]], ids=["unset", "null", "empty", "blank", "int", "list"]
)
def test_prompt_is_required_non_empty_text(value: object) -> None:
    shown = describe(None if value is UNSET else value)
    refused(draft(prompt=value), Field.PROMPT, f"prompt is required and must be a non-empty string, got {shown}.")


def test_prompt_is_cut_to_the_model_limit_and_keeps_its_whitespace() -> None:
    assert validate_draft(draft(prompt="  a cat  ")).prompt == "  a cat  "
    exact = validate_draft(draft("wan2.2-t2v-plus", "字" * 800))
    assert (exact.prompt, exact.prompt_truncated) == ("字" * 800, False)
    over = validate_draft(draft("wan2.2-t2v-plus", "字" * 800 + "ab"))
    assert (over.prompt, over.prompt_truncated, over.negative_prompt_truncated) == ("字" * 800, True, False)


def test_prompt_blank_within_the_limit_is_refused() -> None:
    refused(
        draft(prompt=" " * 5000 + "x"),
        Field.PROMPT,
        f"prompt is required and must be a non-empty string, got {describe(' ' * 5000 + 'x')}.",
    )


@pytest.mark.parametrize("field", [Field.PROMPT, Field.NEGATIVE_PROMPT])
def test_nul_is_refused(field: Field) -> None:
    refused(replace(draft(), **{field.value: "a\x00cat"}), field, f"{field} must not contain NUL (\\u0000) characters.")


@pytest.mark.parametrize("value", [UNSET, None, ""], ids=["unset", "null", "empty"])
def test_negative_prompt_is_optional(value: object) -> None:
    req = validate_draft(draft(negative_prompt=value))
    assert (req.negative_prompt, req.negative_prompt_truncated) == ("", False)


def test_negative_prompt_is_cut_to_500() -> None:
    req = validate_draft(draft(negative_prompt="n" * 501))
    assert (req.negative_prompt, req.negative_prompt_truncated, req.prompt_truncated) == ("n" * 500, True, False)


@pytest.mark.parametrize("value", [1, True, {"a": 1}])
def test_negative_prompt_must_be_text(value: object) -> None:
    refused(
        draft(negative_prompt=value), Field.NEGATIVE_PROMPT, f"negative_prompt must be a string, got {describe(value)}."
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(UNSET, None), (None, None), ("HTTPS://A/X.MP3", "HTTPS://A/X.MP3"), ("oss://b/k/x.mp3", "oss://b/k/x.mp3")],
)
def test_audio_url_accepted(value: object, expected: str | None) -> None:
    assert validate_draft(draft(audio_url=value)).audio_url == expected


@pytest.mark.parametrize("value", ["ftp://a/x.mp3", "a/x.mp3", "", 1])
def test_audio_url_refused(value: object) -> None:
    refused(
        draft(audio_url=value),
        Field.AUDIO_URL,
        f"audio_url must be an http(s) URL or an oss:// upload, got {describe(value)}.",
    )


# ------------------------------------------------------------------------------------------ seed, flags


@pytest.mark.parametrize(("value", "expected"), [(UNSET, None), (None, None), (0, 0), (2147483647, 2147483647)])
def test_seed_accepted(value: object, expected: int | None) -> None:
    assert validate_draft(draft(seed=value)).seed == expected


@pytest.mark.parametrize("value", [-1, 2147483648, True, 1.0, "1"])
def test_seed_refused(value: object) -> None:
    refused(draft(seed=value), Field.SEED, f"seed must be an integer from 0 to 2147483647, got {describe(value)}.")


@pytest.mark.parametrize("field", [Field.PROMPT_EXTEND, Field.WATERMARK])
def test_flags(field: Field) -> None:
    for value in (True, False):
        assert getattr(validate_draft(replace(draft(), **{field.value: value})), field.value) is value
    for bad in (None, 1, "true"):
        message = f"{field} must be a boolean (true or false), got {describe(bad)}."
        refused(replace(draft(), **{field.value: bad}), field, message)


# ------------------------------------------------------------------------------------- size: tier × ratio


@pytest.mark.parametrize(
    ("tier", "ratio", "size"),
    [
        ("720P", "4:3", (1104, 832)),
        ("1080P", "9:16", (1080, 1920)),
        (UNSET, "1:1", (960, 960)),
        ("1080P", UNSET, (1920, 1080)),
    ],
)
def test_tier_ratio_on_a_wan27_model(tier: object, ratio: object, size: tuple[int, int]) -> None:
    req = validate_draft(draft(size=TierRatio(tier, ratio)))
    assert (req.width, req.height) == size


def test_tier_is_case_sensitive_with_a_hint() -> None:
    message = (
        "resolution must be one of '720P', '1080P', got '720p' (a string). "
        "Values are case-sensitive: use uppercase, e.g. '720P'."
    )
    refused(draft(size=TierRatio("720p")), Field.RESOLUTION, message)


@pytest.mark.parametrize("value", [None, "4K", 720])
def test_other_tiers_are_refused(value: object) -> None:
    message = f"resolution must be one of '720P', '1080P', got {describe(value)}."
    refused(draft(size=TierRatio(value)), Field.RESOLUTION, message)


def test_ratio_refused() -> None:
    message = "ratio must be one of '16:9', '9:16', '1:1', '4:3', '3:4', got '21:9' (a string)."
    refused(draft(size=TierRatio("720P", "21:9")), Field.RATIO, message)


def test_tier_ratio_on_an_older_model_uses_its_tiers_and_default() -> None:
    req = validate_draft(draft("wan2.2-t2v-plus", size=TierRatio()))
    assert (req.width, req.height, req.resolution, req.ratio) == (1920, 1080, "1080P", "16:9")
    req = validate_draft(draft("wan2.2-t2v-plus", size=TierRatio("480P", "1:1")))
    assert (req.width, req.height) == (624, 624)
    refused(
        draft("wan2.2-t2v-plus", size=TierRatio("720P")),
        Field.RESOLUTION,
        "resolution must be one of '480P', '1080P', got '720P' (a string).",
    )
    message = "ratio must be one of '16:9', '9:16', '1:1', got '4:3' (a string)."  # 480P has three ratios
    refused(draft("wan2.2-t2v-plus", size=TierRatio("480P", "4:3")), Field.RATIO, message)


# ------------------------------------------------------------------------------------------ size: exact


@pytest.mark.parametrize(
    ("model", "text", "expected"),
    [
        ("wan2.6-t2v", "1632*1248", (1632, 1248, "1080P", "4:3")),
        ("wan2.6-t2v", UNSET, (1920, 1080, "1080P", "16:9")),
        ("wan2.6-t2v", None, (1920, 1080, "1080P", "16:9")),
        ("wanx2.1-t2v-plus", UNSET, (1280, 720, "720P", "16:9")),
        ("wan2.7-t2v", "1104*832", (1104, 832, "720P", "4:3")),
        ("wan2.7-t2v", UNSET, (1280, 720, "720P", "16:9")),
    ],
)
def test_exact_size(model: str, text: object, expected: tuple[int, int, str, str]) -> None:
    req = validate_draft(draft(model, size=ExactSize(text)))
    assert (req.width, req.height, req.resolution, req.ratio) == expected


def test_exact_size_refused_listing_the_model_sizes_in_its_notation() -> None:
    refused(
        draft("wanx2.1-t2v-plus", size=ExactSize("1920*1080")),
        Field.SIZE,
        "size for model wanx2.1-t2v-plus must be one of '1280*720', '720*1280', '960*960', '1088*832', '832*1088' "
        "(width*height), got '1920*1080' (a string).",
    )
    refused(
        draft("wanx2.1-t2v-plus", size=ExactSize("1280*720", separator="x")),
        Field.SIZE,
        "size for model wanx2.1-t2v-plus must be one of '1280x720', '720x1280', '960x960', '1088x832', '832x1088' "
        "(widthxheight), got '1280*720' (a string).",
    )
    req = validate_draft(draft("wanx2.1-t2v-plus", size=ExactSize("960x960", separator="x")))
    assert (req.width, req.height) == (960, 960)


def any_size(text: str) -> ExactSize:
    return ExactSize(text, separator="x", any_size=True)


@pytest.mark.parametrize(
    ("model", "text", "tier", "ratio"),
    [
        ("wan2.7-t2v", "1280x720", "720P", "16:9"),  # a table size keeps its own tier and ratio
        ("wan2.7-t2v", "1024x576", "720P", "16:9"),
        ("wan2.7-t2v", "832x480", "720P", "26:15"),  # nearer 720P's pixels than 1080P's
        ("wan2.7-t2v", "1024x1792", "1080P", "4:7"),
        ("wan2.7-t2v", "128x128", "720P", "1:1"),  # the smallest side allowed
        ("wan2.7-t2v", "1920x1080", "1080P", "16:9"),
        ("wanx2.1-t2v-turbo", "1024x576", "480P", "16:9"),
        ("wanx2.1-t2v-turbo", "1280x720", "720P", "16:9"),
    ],
)
def test_any_size_takes_a_makeable_size_outside_the_table(model: str, text: str, tier: str, ratio: str) -> None:
    req = validate_draft(draft(model, size=any_size(text)))
    assert (f"{req.width}x{req.height}", req.resolution, req.ratio) == (text, tier, ratio)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1001x500", "an odd side"),
        ("1000x501", "an odd side"),
        ("126x720", "a side under 128"),
        ("1922x1080", "a side over the largest (1920)"),
        ("1920x1920", "more pixels than the largest size"),
        ("1280*720", "another separator"),
    ],
)
def test_any_size_still_refuses_what_the_model_cannot_make(text: str, why: str) -> None:
    error = refused(
        draft(size=any_size(text)),
        Field.SIZE,
        "size for model wan2.7-t2v must be one of '1280x720', '720x1280', '960x960', '1104x832', '832x1104', "
        "'1920x1080', '1080x1920', '1440x1440', '1648x1248', '1248x1648' (widthxheight), or any widthxheight with "
        f"even sides from 128 to 1920 and at most 2073600 pixels, got '{text}' (a string).",
    )
    assert error.field is Field.SIZE, why


def test_without_any_size_only_the_table_counts() -> None:
    with pytest.raises(InvalidField, match=r"\(width\*height\), got '1024\*576'"):
        validate_draft(draft("wanx2.1-t2v-turbo", size=ExactSize("1024*576")))


def test_a_legacy_size_is_not_a_wan27_size() -> None:
    with pytest.raises(InvalidField, match=r"'1104\*832'.*got '1088\*832'"):
        validate_draft(draft(size=ExactSize("1088*832")))


@pytest.mark.parametrize(
    ("value", "separator", "expected"),
    [
        ("1280*720", "*", (1280, 720)),
        ("1280x720", "x", (1280, 720)),
        ("1280x720", "*", None),
        ("1280*720*1", "*", None),
        ("*720", "*", None),
        (" 1280*720", "*", None),
        ("-1280*720", "*", None),
        ("²*720", "*", None),
        ("１２８０*７２０", "*", None),
        (1280, "*", None),
        (None, "*", None),
    ],
)
def test_parse_size(value: object, separator: str, expected: tuple[int, int] | None) -> None:
    assert parse_size(value, separator) == expected


# --------------------------------------------------------------------------------------- size: by model


def test_size_by_model_reads_the_form_of_the_models_protocol() -> None:
    both = SizeByModel(TierRatio("1080P", "1:1"), ExactSize("832*480"))
    wan27 = validate_draft(draft(size=both))
    assert (wan27.width, wan27.height) == (1440, 1440)  # the exact size is ignored
    legacy = validate_draft(draft("wan2.5-t2v-preview", size=both))
    assert (legacy.width, legacy.height, legacy.resolution) == (832, 480, "480P")  # the tier × ratio is ignored
    ignored_bad = SizeByModel(TierRatio("nope", "nope"), ExactSize("nope"))
    assert validate_draft(draft("wan2.6-t2v", size=replace(ignored_bad, exact=ExactSize()))).width == 1920
    with pytest.raises(InvalidField) as info:
        validate_draft(draft(size=ignored_bad))
    assert info.value.field == Field.RESOLUTION


# --------------------------------------------------------------------------------------------- duration


@pytest.mark.parametrize(
    ("model", "good", "bad", "allowed"),
    [
        ("wan2.7-t2v", [2, 15], [1, 16, 5.0, "5", True, None], "an integer from 2 to 15 (seconds)"),
        ("wan2.5-t2v-preview", [5, 10], [6, 15], "one of the integers 5, 10 (seconds)"),
        ("wan2.2-t2v-plus", [5], [4, 10], "the integer 5 (seconds)"),
    ],
)
def test_duration_rules(model: str, good: list[int], bad: list[object], allowed: str) -> None:
    assert validate_draft(draft(model)).duration == 5
    for value in good:
        assert validate_draft(draft(model, duration=value)).duration == value
    for value in bad:
        message = f"duration for model {model} must be {allowed}, got {describe(value)}."
        refused(draft(model, duration=value), Field.DURATION, message)


def test_a_served_limit_narrows_the_durations() -> None:
    models = limited("wan2.7-t2v", 8)
    assert validate_draft(draft(duration=8), models=models).duration == 8
    assert validate_draft(draft(), models=models).duration == 5  # the default still fits
    message = (
        "duration for model wan2.7-t2v must be an integer from 2 to 8 (seconds) on this server "
        "(its checkpoint makes at most so many frames), got 9 (an integer)."
    )
    refused(draft(duration=9), Field.DURATION, message, models=models)


def test_below_the_default_the_longest_served_duration_is_the_default() -> None:
    models = limited("wan2.7-t2v", 3)
    assert validate_draft(draft(), models=models).duration == 3
    refused(
        draft(duration=5),
        Field.DURATION,
        "duration for model wan2.7-t2v must be an integer from 2 to 3 (seconds) on this server "
        "(its checkpoint makes at most so many frames), got 5 (an integer).",
        models=models,
    )


@pytest.mark.parametrize("duration", [UNSET, 5, 10])
def test_a_model_no_served_duration_fits_is_refused_whatever_is_asked(duration: object) -> None:
    models = limited("wan2.6-t2v-us", 4)
    message = (
        "duration for model wan2.6-t2v-us must be one of the integers 5, 10 (seconds), which this server cannot "
        "make (its checkpoint makes at most so many frames)."
    )
    refused(draft("wan2.6-t2v-us", duration=duration), Field.DURATION, message, models=models)


# ------------------------------------------------------------------------------------------------ wording


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (None, "null"),
        (True, "True (a boolean)"),
        ("5", "'5' (a string)"),
        (5, "5 (an integer)"),
        (5.0, "5.0 (a number)"),
        ([], "[] (a list)"),
        ({}, "{} (an object)"),
        (("m",), "('m',) (tuple)"),
    ],
)
def test_describe(value: object, shown: str) -> None:
    assert describe(value) == shown


def test_a_model_served_by_its_size_table_only_refuses_any_other_size() -> None:
    relayed = {"wan2.7-t2v": replace(PUBLIC_MODELS["wan2.7-t2v"], table_sizes_only=True)}
    req = validate_draft(draft(size=any_size("1280x720")), models=relayed)
    assert (req.width, req.height, req.resolution, req.ratio) == (1280, 720, "720P", "16:9")
    error = refused(draft(size=any_size("1024x576")), Field.SIZE, _table_only_message(), models=relayed)
    assert "any width" not in error.message


def _table_only_message() -> str:
    sizes = PUBLIC_MODELS["wan2.7-t2v"].allowed_sizes()
    options = ", ".join(f"'{w}x{h}'" for w, h in sizes)
    return f"size for model wan2.7-t2v must be one of {options} (widthxheight), got '1024x576' (a string)."
