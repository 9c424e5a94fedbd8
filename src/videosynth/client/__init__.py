"""videosynth's Python SDK: ``from videosynth.client import Client, AsyncClient``.

Depends on httpx and the standard library only, and never imports the server side (an import-linter contract
enforces it), so it can be vendored or installed without the server's dependencies.
"""

from videosynth.client.async_client import AsyncClient
from videosynth.client.errors import (
    AuthenticationError,
    InvalidParameterError,
    LinkExpiredError,
    NetworkError,
    ServerError,
    TaskFailedError,
    TaskNotFoundError,
    ThrottledError,
    VideosynthError,
    WaitTimeoutError,
)
from videosynth.client.models import Progress, Task, TaskSummary, Video, VideoOptions, VideoRequest
from videosynth.client.sync_client import Client

__all__ = [
    "AsyncClient",
    "AuthenticationError",
    "Client",
    "InvalidParameterError",
    "LinkExpiredError",
    "NetworkError",
    "Progress",
    "ServerError",
    "Task",
    "TaskFailedError",
    "TaskNotFoundError",
    "TaskSummary",
    "ThrottledError",
    "Video",
    "VideoOptions",
    "VideoRequest",
    "VideosynthError",
    "WaitTimeoutError",
]
