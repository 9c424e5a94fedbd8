"""Real `videosynth serve` processes on loopback, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.net import free_port

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
FINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}

# Small, fast and reproducible: one torch thread, quick polling, short leases for crash tests.
BASE_ENV = {
    "VIDEOSYNTH_TORCH_THREADS": "1",
    "VIDEOSYNTH_POLL_INTERVAL_S": "0.1",
    "VIDEOSYNTH_LOG_LEVEL": "INFO",
}


def videosynth(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run the CLI like a user would; return stdout."""
    full_env = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(data_dir), **(env or {})}
    done = subprocess.run(
        [sys.executable, "-m", "videosynth", *args],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class Server:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    worker: bool = True
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 90.0) -> Server:
        full_env = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(self.data_dir), **self.env}
        command = [
            sys.executable,
            "-m",
            "videosynth",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if not self.worker:
            command.append("--no-worker")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / f"server-{self.port}.log").open("ab")
        self.process = subprocess.Popen(command, env=full_env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: see {log.name}"
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise TimeoutError("server did not become healthy")

    def create_key(self, name: str = "test") -> str:
        out = videosynth(self.data_dir, "keys", "create", "--name", name, env=self.env)
        return out.strip().splitlines()[-1]

    def kill(self) -> bool:
        """SIGKILL the server process alone, like a crash. Returns whether its embedded worker died with it."""
        if self.process is None or self.process.poll() is not None:
            return True
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.05)
        os.killpg(self.process.pid, signal.SIGKILL)  # never leave an orphan behind a test
        return False

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 40.0) -> None:
    """SIGTERM, and SIGKILL for its whole process group if it has not exited within ``grace_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def headers(key: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {key}",
        "X-DashScope-Async": "enable",
        "Content-Type": "application/json",
    }


def submit(base_url: str, key: str, body: dict[str, Any], **extra: str) -> httpx.Response:
    return httpx.post(f"{base_url}{CREATE_PATH}", headers={**headers(key), **extra}, json=body, timeout=30)


def query(base_url: str, key: str, task_id: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_final(base_url: str, key: str, task_id: str, timeout_s: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        body = query(base_url, key, task_id)
        if body["output"]["task_status"] in FINAL:
            return body
        time.sleep(0.2)
    raise TimeoutError(f"task {task_id} not final after {timeout_s} s")
