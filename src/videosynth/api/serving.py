"""Serve the app with uvicorn, telling open event streams to end as soon as a graceful shutdown begins.

uvicorn's graceful shutdown waits for every response in progress to finish, and an event stream only finishes
when its task does: without this, SIGTERM would wait on each open stream (up to its task's end).
"""

from __future__ import annotations

from collections.abc import Callable
from types import FrameType

import uvicorn
from fastapi import FastAPI

from videosynth.api.events import EventStreams


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_exit: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_exit = on_exit

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self._on_exit()  # sets a flag the streams read at their next tick: safe from a signal handler
        super().handle_exit(sig, frame)


def run(app: FastAPI, host: str, port: int) -> None:
    """What ``uvicorn.run(app, ...)`` does, with the streams' shutdown hook."""
    streams: EventStreams = app.state.event_streams
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    _Server(config, streams.close).run()
