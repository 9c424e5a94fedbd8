"""Every Wan architecture through the whole service (HTTP → worker → mp4), routed by a registry with aliases:
Wan2.2-TI2V-5B (24 fps, 32-pixel grid) behind `wan2.7-t2v` on the embedded worker, Wan2.2-A14B (two experts)
behind `wan2.6-t2v` on a second worker that claims only its own model's names. (Wan2.1 is the demo model that the
rest of the e2e suite runs on.)"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import WorkerProcess
from tests.support.server import Server, submit, videosynth, wait_final
from videosynth.media.probe import probe


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    root = Path(tmp_path_factory.mktemp("archs"))
    for arch in ("wan2.2-ti2v", "wan2.2-a14b"):
        videosynth(root, "models", "build-tiny", "--arch", arch, str(root / arch))
    registry = root / "registry.toml"
    registry.write_text(
        f"""default = "ti2v"
[aliases]
"wan2.7-t2v" = "ti2v"
"wan2.6-t2v" = "a14b"

[models.ti2v]
checkpoint = "{root / "wan2.2-ti2v"}"
arch = "wan2.2-ti2v"
steps = 2
max_pixels = 4096

[models.a14b]
checkpoint = "{root / "wan2.2-a14b"}"
arch = "wan2.2-a14b"
steps = 40
max_pixels = 4096
"""
    )
    env = {"VIDEOSYNTH_MODEL_REGISTRY": str(registry), "VIDEOSYNTH_HEARTBEAT_S": "0.2"}
    server = Server(root, env).start()
    # A second worker for the second model, sharing the server's data dir (its SQLite file and results folder).
    worker = WorkerProcess(root / "a14b-worker", {**env, "VIDEOSYNTH_DATA_DIR": str(root)}, ("--model", "a14b"))
    worker.start()
    try:
        yield server, server.create_key("archs")
    finally:
        worker.kill()
        server.stop()


def _download(url: str, target: Path) -> Path:
    target.write_bytes(httpx.get(url, timeout=30).content)
    return target


def test_ti2v_behind_the_wan27_alias(deployment: tuple[Server, str], tmp_path: Path) -> None:
    server, key = deployment
    body = {
        "model": "wan2.7-t2v",
        "input": {"prompt": "a lighthouse"},
        "parameters": {"ratio": "9:16", "duration": 2, "watermark": True, "prompt_extend": False},
    }
    done = wait_final(server.base_url, key, submit(server.base_url, key, body).json()["output"]["task_id"])
    assert done["output"]["task_status"] == "SUCCEEDED", done
    info = probe(_download(done["output"]["video_url"], tmp_path / "ti2v.mp4"))
    assert (info.width, info.height, info.fps, info.frames) == (720, 1280, 24, 2 * 24)


def test_a14b_behind_the_wan26_alias_reports_progress(deployment: tuple[Server, str], tmp_path: Path) -> None:
    server, key = deployment
    body = {"model": "wan2.6-t2v", "input": {"prompt": "rain"}, "parameters": {"size": "1280*720", "duration": 2}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    seen: list[int] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        polled = httpx.get(f"{server.base_url}/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()
        seen.append(polled["progress"])
        if polled["status"] in {"completed", "failed"}:
            break
        time.sleep(0.05)
    assert polled["status"] == "completed", polled
    assert seen == sorted(seen) and seen[-1] == 100  # monotone
    assert any(0 < p < 100 for p in seen)  # step progress was visible while it ran
    info = probe(_download(polled["result_url"], tmp_path / "a14b.mp4"))
    assert (info.width, info.height, info.fps, info.frames) == (1280, 720, 16, 2 * 16)
