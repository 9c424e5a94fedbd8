"""One exception hierarchy; each class carries a stable DashScope error code.

Only ``videosynth.api.errors`` knows which HTTP status each code maps to.
"""

from __future__ import annotations


class VideosynthError(Exception):
    """Base of every error that may be shown to a client: code and message are safe to expose."""

    code = "InternalError"
    default_message = "An internal error occurred."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class InvalidParameter(VideosynthError):
    code = "InvalidParameter"
    default_message = "Required parameter(s) missing or invalid, please check the request parameters."


class InvalidField(InvalidParameter):
    """A bad value of one request field. The message names the field as the client's dialect does; ``field`` is
    its neutral name (``domain.draft.Field``), for a dialect whose error body points at the field on its own."""

    def __init__(self, message: str | None = None, *, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class EmptyModel(InvalidParameter):
    code = "BadRequest.EmptyModel"
    default_message = "Required parameter 'model' missing from request."


class EmptyInput(InvalidParameter):
    code = "BadRequest.EmptyInput"
    default_message = "Required parameter 'input' missing from request."


class ModelNotFound(InvalidParameter):
    default_message = "Model not exist."


class DataInspectionFailed(VideosynthError):
    """The prompt check (safety/) found the prompt unacceptable; the task is never queued."""

    code = "DataInspectionFailed"
    default_message = "Input or output data may contain inappropriate content."


class UnsupportedOperation(VideosynthError):
    code = "UnsupportedOperation"
    default_message = "The operation is unsupported on the referee object."


class NotFound(VideosynthError):
    """No such resource for this key (another key's task is none of its own)."""

    code = "NotFound"
    default_message = "The requested resource does not exist."


class Conflict(VideosynthError):
    """The resource is in a state that does not allow the operation (deleting a RUNNING task)."""

    code = "Conflict"
    default_message = "The resource is in a state that does not allow this operation."


class InvalidApiKey(VideosynthError):
    code = "InvalidApiKey"
    default_message = "Invalid API-key provided."


class AccessDenied(VideosynthError):
    code = "AccessDenied"
    default_message = "Access denied."


class Throttling(VideosynthError):
    code = "Throttling"
    default_message = "Requests throttling triggered."


class RateQuota(Throttling):
    code = "Throttling.RateQuota"
    default_message = "Requests rate limit exceeded, please try again later."


class InputDownloadFailed(VideosynthError):
    code = "BadRequest.InputDownloadFailed"
    default_message = "Failed to download the input file."


class UnsupportedFileFormat(VideosynthError):
    code = "BadRequest.UnsupportedFileFormat"
    default_message = "The input file format is not supported."


class InternalError(VideosynthError):
    code = "InternalError"


class ServiceUnavailable(VideosynthError):
    """Load shedding on polls: the dashscope SDK retries 503 but stops waiting on 429."""

    code = "ServiceUnavailable"
    default_message = "The service is temporarily unavailable, please retry."


class TooLarge(VideosynthError):
    code = "BadRequest.TooLarge"
    default_message = "The request body is too large."
