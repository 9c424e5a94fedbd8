"""The embedded worker of `videosynth serve`: a child process, so model code never shares the API's GIL."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

from videosynth.settings import Settings
from videosynth.worker.lifetime import die_with_parent

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    die_with_parent(signal.SIGKILL)  # if the server is SIGKILLed, no orphan worker may hold a lease


class EmbeddedWorker:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **self._settings.to_env()}
        command = [sys.executable, "-m", "videosynth", "worker", "--no-migrate"]
        preexec = _die_with_parent if sys.platform.startswith("linux") else None
        self._process = subprocess.Popen(command, env=env, preexec_fn=preexec)  # noqa: PLW1509
        log.info("embedded worker started", extra={"pid": self._process.pid})

    def stop(self, grace_s: float = 30.0) -> None:
        """Drain for grace_s, then ask the worker to give its task back (it stays re-claimable), then kill."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        for wait_s in (grace_s, 15.0):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue
        process.kill()
        process.wait()
