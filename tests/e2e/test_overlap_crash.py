"""A pipelined worker SIGKILLed while one task encodes and the next denoises: both are re-run by a fresh worker,
each finishes exactly once, each with a valid mp4."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select

from tests.support.processes import WorkerProcess
from tests.support.server import Server, query, submit, wait_final
from videosynth.media.probe import probe
from videosynth.store.schema import tasks

# 1080P frames encode for seconds on CPU; many steps keep the next task denoising meanwhile, long enough to be seen
# there (its last step reads 90 %, as encoding does); short leases re-claim quickly after the kill.
ENV = {
    "VIDEOSYNTH_MODEL_STEPS": "120",
    "VIDEOSYNTH_LEASE_S": "3",
    "VIDEOSYNTH_HEARTBEAT_S": "0.3",
    "VIDEOSYNTH_EMBEDDED_WORKER": "false",
    "VIDEOSYNTH_WORKER_OVERLAP": "true",
}
BODY = {"model": "wan2.7-t2v", "input": {"prompt": "harbour"}, "parameters": {"resolution": "1080P", "duration": 5}}
ENCODING_PERCENT = 90  # domain/progress.py: encoding starts here; denoising stays below


def _percent(server: Server, key: str, task_id: str) -> int:
    response = httpx.get(f"{server.base_url}/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
    percent: int = response.json()["progress"]
    return percent


def _wait_encoding_while_next_denoises(server: Server, key: str, first: str, second: str) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        running = all(query(server.base_url, key, t)["output"]["task_status"] == "RUNNING" for t in (first, second))
        encoding = running and _percent(server, key, first) == ENCODING_PERCENT
        if encoding and _percent(server, key, second) < ENCODING_PERCENT:
            return
        time.sleep(0.02)
    raise TimeoutError("never saw one task encoding while the next denoised")


def _successes(*workers: WorkerProcess) -> Counter[str]:
    return Counter(
        event["task_id"]
        for worker in workers
        for event in worker.events()
        if event.get("event") == "task finished" and event.get("status") == "SUCCEEDED"
    )


def test_sigkill_while_one_task_encodes_and_the_next_denoises(tmp_path: Path) -> None:
    api = Server(tmp_path, ENV, worker=False).start()
    env = {**ENV, "VIDEOSYNTH_DATA_DIR": str(tmp_path)}
    killed = WorkerProcess(tmp_path / "killed", env)
    fresh = WorkerProcess(tmp_path / "fresh", env)
    try:
        key = api.create_key()
        first, second = (submit(api.base_url, key, BODY).json()["output"]["task_id"] for _ in range(2))
        killed.start()
        _wait_encoding_while_next_denoises(api, key, first, second)
        killed.kill()
        assert not _successes(killed)  # killed mid-work: neither task finished there

        fresh.start()
        results = {task_id: wait_final(api.base_url, key, task_id, timeout_s=300) for task_id in (first, second)}
        for task_id, result in results.items():
            assert result["output"]["task_status"] == "SUCCEEDED", result
            target = tmp_path / f"{task_id}.mp4"
            target.write_bytes(httpx.get(result["output"]["video_url"], timeout=30).content)
            info = probe(target)
            assert (info.width, info.height, info.frames) == (1920, 1080, 5 * 16)
    finally:
        killed.kill()
        fresh.kill()
        api.stop()

    assert _successes(killed, fresh) == Counter({first: 1, second: 1})  # each finished exactly once
    engine = create_engine(f"sqlite:///{tmp_path / 'videosynth.db'}")
    with engine.connect() as connection:
        attempts = dict(connection.execute(select(tasks.c.task_id, tasks.c.attempts)).all())
    engine.dispose()
    assert attempts == {first: 2, second: 2}  # both were re-run
