"""`videosynth demo`: the whole user journey against a real local server, as the seed's curl flow does it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from videosynth import compose
from videosynth.settings import Settings

CREATE_PATH = "/api/v1/services/aigc/video-generation/video-synthesis"
FINAL = {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _say(message: str) -> None:
    print(message, flush=True)


def _start_server(settings: Settings, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **settings.to_env()}
    command = [sys.executable, "-m", "videosynth", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = (settings.data_dir / "demo-server.log").open("ab")
    return subprocess.Popen(command, env=env, stdout=log, stderr=log)


def _wait_healthy(client: httpx.Client, server: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up; see demo-server.log in the data dir")
        try:
            if client.get("/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not become healthy in time")


def _poll(client: httpx.Client, task_id: str, key: str, deadline: float) -> dict[str, Any]:
    last = ""
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get(f"/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()
        status = body["output"]["task_status"]
        if status != last:
            _say(f"  task {task_id}: {status}")
            last = status
        if status in FINAL:
            return body
        time.sleep(1.0)
    raise TimeoutError(f"task {task_id} did not finish in time")


def run_demo(settings: Settings, prompt: str, out: Path | None, timeout_s: float) -> int:
    from videosynth.media.probe import probe

    deadline = time.monotonic() + timeout_s
    compose.prepare_database(settings, auto_migrate=True)
    _tasks, keys = compose.stores(settings)
    _key, secret = keys.create("demo", int(time.time() * 1000))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    _say(f"starting videosynth on {base} (data dir {settings.data_dir})")
    server = _start_server(settings, port)
    try:
        with httpx.Client(base_url=base, timeout=60) as client:
            _wait_healthy(client, server, deadline)
            headers = {
                "X-DashScope-Async": "enable",
                "Authorization": f"Bearer {secret}",
                "Content-Type": "application/json",
            }
            created = client.post(
                CREATE_PATH, headers=headers, json={"model": "wan2.7-t2v", "input": {"prompt": prompt}}
            )
            if created.status_code != 200:
                _say(f"create failed: HTTP {created.status_code} {created.text}")
                return 1
            task_id = created.json()["output"]["task_id"]
            _say(f"submitted task {task_id}")
            result = _poll(client, task_id, secret, deadline)
            output = result["output"]
            if output["task_status"] != "SUCCEEDED":
                _say(f"task ended {output['task_status']}: {output.get('code')} {output.get('message')}")
                return 1
            target = out or Path(f"videosynth-{task_id}.mp4")
            # Like an OSS link: the download carries no Authorization header.
            with httpx.stream("GET", output["video_url"], timeout=60) as download:
                download.raise_for_status()
                with target.open("wb") as handle:
                    for chunk in download.iter_bytes():
                        handle.write(chunk)
        info = probe(target)
        _say(f"video: {target.resolve()}")
        _say(
            f"  {info.width}x{info.height}, {info.frames} frames at {info.fps:g} fps = {info.duration:.3f} s, "
            f"{info.codec} {info.pix_fmt}, {target.stat().st_size} bytes, seed {output['seed']}"
        )
        if settings.is_demo_model:
            _say("  (demo model: tiny random weights, so the picture is meaningless; README 'Models' has real Wan)")
        return 0
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
