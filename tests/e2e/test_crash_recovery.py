"""Nothing is lost on a crash: SIGKILL the server mid-task, start it again, every task finishes."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.server import Server, query, submit, wait_final
from videosynth.media.probe import probe

# Slow enough to be caught mid-task, short leases so the restart re-claims quickly.
SLOW = {"VIDEOSYNTH_MODEL_STEPS": "30", "VIDEOSYNTH_LEASE_S": "3", "VIDEOSYNTH_HEARTBEAT_S": "0.5"}


def _wait_running(server: Server, key: str, task_id: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if query(server.base_url, key, task_id)["output"]["task_status"] == "RUNNING":
            return
        time.sleep(0.05)
    raise TimeoutError("task never started")


def test_sigkill_mid_task_then_restart_finishes_everything(tmp_path: Path) -> None:
    first = Server(tmp_path, SLOW).start()
    key = first.create_key("crash")
    body = {"model": "wan2.7-t2v", "input": {"prompt": "storm"}, "parameters": {"duration": 4, "seed": 5}}
    ids = [submit(first.base_url, key, body).json()["output"]["task_id"] for _ in range(3)]
    _wait_running(first, key, ids[0])
    assert first.kill(), "the embedded worker outlived the killed server"

    second = Server(tmp_path, SLOW).start()  # same data dir: same SQLite file and results
    try:
        results = [wait_final(second.base_url, key, task_id, timeout_s=240) for task_id in ids]
        for task_id, result in zip(ids, results, strict=True):
            assert result["output"]["task_status"] == "SUCCEEDED", (task_id, result)
            target = tmp_path / f"{task_id}.mp4"
            target.write_bytes(httpx.get(result["output"]["video_url"]).content)
            assert probe(target).frames == 4 * 16
    finally:
        second.stop()
