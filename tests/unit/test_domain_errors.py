"""Every client-visible error class: its DashScope code, default message and message override."""

from __future__ import annotations

import pytest

from videosynth.domain import errors

# class → (code, default message); the official ones of api-contract.md §1.9 where it has one.
EXPECTED: dict[type[errors.VideosynthError], tuple[str, str]] = {
    errors.VideosynthError: ("InternalError", "An internal error occurred."),
    errors.InvalidParameter: (
        "InvalidParameter",
        "Required parameter(s) missing or invalid, please check the request parameters.",
    ),
    errors.InvalidField: (
        "InvalidParameter",
        "Required parameter(s) missing or invalid, please check the request parameters.",
    ),
    errors.EmptyModel: ("BadRequest.EmptyModel", "Required parameter 'model' missing from request."),
    errors.EmptyInput: ("BadRequest.EmptyInput", "Required parameter 'input' missing from request."),
    errors.ModelNotFound: ("InvalidParameter", "Model not exist."),
    errors.DataInspectionFailed: (
        "DataInspectionFailed",
        "Input or output data may contain inappropriate content.",
    ),
    errors.UnsupportedOperation: (
        "UnsupportedOperation",
        "The operation is unsupported on the referee object.",
    ),
    errors.NotFound: ("NotFound", "The requested resource does not exist."),
    errors.Conflict: ("Conflict", "The resource is in a state that does not allow this operation."),
    errors.InvalidApiKey: ("InvalidApiKey", "Invalid API-key provided."),
    errors.AccessDenied: ("AccessDenied", "Access denied."),
    errors.Throttling: ("Throttling", "Requests throttling triggered."),
    errors.RateQuota: ("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    errors.InputDownloadFailed: ("BadRequest.InputDownloadFailed", "Failed to download the input file."),
    errors.UnsupportedFileFormat: (
        "BadRequest.UnsupportedFileFormat",
        "The input file format is not supported.",
    ),
    errors.InternalError: ("InternalError", "An internal error occurred."),
    errors.ServiceUnavailable: (
        "ServiceUnavailable",
        "The service is temporarily unavailable, please retry.",
    ),
    errors.TooLarge: ("BadRequest.TooLarge", "The request body is too large."),
}

CLASSES = sorted(EXPECTED, key=lambda cls: cls.__name__)


def _all_error_classes() -> set[type[errors.VideosynthError]]:
    found: set[type[errors.VideosynthError]] = set()
    todo = [errors.VideosynthError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {cls for cls in found if cls.__module__ == errors.__name__}


def test_every_error_class_is_covered_here() -> None:
    assert _all_error_classes() == set(EXPECTED)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_code_and_default_message(cls: type[errors.VideosynthError]) -> None:
    code, message = EXPECTED[cls]
    err = cls()
    assert err.code == code
    assert cls.code == code
    assert err.message == message
    assert str(err) == message
    assert err.args == (message,)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_custom_message_overrides_default(cls: type[errors.VideosynthError]) -> None:
    err = cls("parameters.seed must be an integer from 0 to 2147483647, got -1 (an integer).")
    assert err.message == "parameters.seed must be an integer from 0 to 2147483647, got -1 (an integer)."
    assert str(err) == err.message
    assert err.code == EXPECTED[cls][0]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_empty_or_none_message_falls_back_to_default(cls: type[errors.VideosynthError]) -> None:
    assert cls(None).message == EXPECTED[cls][1]
    assert cls("").message == EXPECTED[cls][1]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda cls: cls.__name__)
def test_every_error_is_an_exception_and_a_videosynth_error(cls: type[errors.VideosynthError]) -> None:
    with pytest.raises(errors.VideosynthError):
        raise cls()


def test_request_errors_are_invalid_parameter_subclasses() -> None:
    # The API layer maps the whole InvalidParameter family to HTTP 400; these must be caught by it.
    for cls in (errors.InvalidField, errors.EmptyModel, errors.EmptyInput, errors.ModelNotFound):
        assert issubclass(cls, errors.InvalidParameter)
    assert issubclass(errors.RateQuota, errors.Throttling)


def test_invalid_field_carries_the_neutral_field_name() -> None:
    err = errors.InvalidField("parameters.seed must be an integer", field="seed")
    assert (err.field, err.message, err.code) == ("seed", "parameters.seed must be an integer", "InvalidParameter")
    assert errors.InvalidField().field == ""


def test_model_not_found_message_is_exactly_upstreams() -> None:
    err = errors.ModelNotFound()
    assert err.code == "InvalidParameter"
    assert err.message == "Model not exist."
