"""The SDK's exceptions: one class per family, each carrying DashScope's ``code``, ``message`` and ``request_id``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from videosynth.client.models import Task


class VideosynthError(Exception):
    """Base of every error the SDK raises."""

    def __init__(self, code: str, message: str, request_id: str | None = None, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code, self.message, self.request_id, self.status = code, message, request_id, status


class AuthenticationError(VideosynthError):
    """No key, a wrong or revoked key, or access denied (401, 403)."""


class InvalidParameterError(VideosynthError):
    """The server refused the request as asked (400 and other 4xx); ``message`` names the field."""


class ThrottledError(VideosynthError):
    """429 after the retries were spent."""


class TaskNotFoundError(VideosynthError):
    """No such task for this key: unknown, expired or another key's (the server answers UNKNOWN or 404)."""


class ServerError(VideosynthError):
    """5xx after the retries were spent, or an answer the SDK cannot read."""


class NetworkError(VideosynthError):
    """The server could not be reached (refused, reset, timed out) after the retries were spent."""


class LinkExpiredError(VideosynthError):
    """The video link was refused (403/404): expired or tampered; fetch the task again for a fresh one."""


class WaitTimeoutError(VideosynthError, TimeoutError):
    """``wait`` gave up: the task was not finished by the timeout."""


class TaskFailedError(VideosynthError):
    """The task ended FAILED or CANCELED; ``task`` is its last state."""

    def __init__(self, task: Task) -> None:
        code = task.code or ("Canceled" if task.status == "CANCELED" else "Failed")
        super().__init__(code, task.message or f"task {task.task_id} ended {task.status}", task.request_id)
        self.task = task


def error_for(status: int, code: str, message: str, request_id: str | None) -> VideosynthError:
    """The exception for an HTTP error answer."""
    family: type[VideosynthError]
    if status in (401, 403):
        family = AuthenticationError
    elif status == 404:
        family = TaskNotFoundError
    elif status == 429:
        family = ThrottledError
    elif status >= 500:
        family = ServerError
    else:
        family = InvalidParameterError
    return family(code, message, request_id, status)
