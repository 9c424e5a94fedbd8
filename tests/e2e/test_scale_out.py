"""Scale-out, for real: 2 API replicas + 2 workers on PostgreSQL and SeaweedFS, a worker SIGKILLed mid-task and an
API replica restarted during the run. Every task succeeds exactly once, every link downloads, keys stay apart."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select

from tests.support.postgres import pg_schema, reachable_pg_url
from tests.support.processes import WorkerProcess
from tests.support.seaweed import SeaweedS3, SeaweedUnavailable, running_seaweed
from tests.support.server import BASE_ENV, Server, query, submit, wait_final
from videosynth.media.probe import probe
from videosynth.store.schema import tasks

TASKS, KEYS, LEASE_S = 50, 3, 3.0


def _require(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with pg_schema(reachable_pg_url()) as url:
        yield url


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    try:
        context = running_seaweed(tmp_path_factory.mktemp("weed"))
        server = context.__enter__()
    except SeaweedUnavailable as exc:
        _require(f"SeaweedFS could not be started: {exc}")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


def _cli(env: dict[str, str], data_dir: Path, *args: str) -> str:
    full = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(data_dir), **env}
    done = subprocess.run(
        [sys.executable, "-m", "videosynth", *args], env=full, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _ts(event: dict[str, object]) -> float:
    return datetime.fromisoformat(str(event["ts"]).replace("Z", "+00:00")).timestamp()


def test_two_replicas_two_workers_survive_a_worker_kill_and_a_replica_restart(
    postgres_url: str, s3: SeaweedS3, tmp_path: Path
) -> None:
    env = {
        "VIDEOSYNTH_DATABASE_URL": postgres_url,
        "VIDEOSYNTH_STORAGE": f"s3://{s3.bucket}/scale-out",
        "VIDEOSYNTH_S3_ENDPOINT_URL": s3.endpoint_url,
        "VIDEOSYNTH_S3_ACCESS_KEY_ID": s3.access_key_id,
        "VIDEOSYNTH_S3_SECRET_ACCESS_KEY": s3.secret_access_key,
        "VIDEOSYNTH_LEASE_S": str(LEASE_S),
        "VIDEOSYNTH_HEARTBEAT_S": "0.5",
        "VIDEOSYNTH_MODEL_STEPS": "6",
        "VIDEOSYNTH_EMBEDDED_WORKER": "false",
    }
    _cli(env, tmp_path / "ops", "migrate")
    keys = [_cli(env, tmp_path / "ops", "keys", "create", "--name", f"k{i}").splitlines()[-1] for i in range(KEYS)]
    api = [Server(tmp_path / f"api{i}", env, worker=False).start() for i in range(2)]
    workers = [WorkerProcess(tmp_path / f"worker{i}", env).start() for i in range(2)]
    try:
        owner: dict[str, str] = {}
        for i in range(TASKS):
            key = keys[i % KEYS]
            body = {"model": "wan2.7-t2v", "input": {"prompt": f"scene {i}"}, "parameters": {"duration": 2}}
            response = submit(api[i % 2].base_url, key, body)
            assert response.status_code == 200, response.text
            owner[response.json()["output"]["task_id"]] = key

        victim_task = _wait_for_claim_by(postgres_url, workers[0], timeout_s=120)
        workers[0].kill()
        killed_at = time.time()
        workers.append(WorkerProcess(tmp_path / "worker2", env).start())  # the replacement GPU comes back

        api[1].stop()  # a rolling restart of one replica while clients keep polling the other
        api[1] = Server(tmp_path / "api1", env, worker=False).start()

        results = {
            task_id: wait_final(api[n % 2].base_url, key, task_id, timeout_s=600)
            for n, (task_id, key) in enumerate(owner.items())
        }
    finally:
        for worker in workers:
            worker.kill()
        for server in api:
            server.stop()

    assert {r["output"]["task_status"] for r in results.values()} == {"SUCCEEDED"}
    finished = Counter(
        event["task_id"]
        for worker in workers
        for event in worker.events()
        if event.get("event") == "task finished" and event.get("status") == "SUCCEEDED"
    )
    assert set(finished) == set(owner) and set(finished.values()) == {1}  # each task succeeded exactly once

    reclaims = [
        _ts(event)
        for worker in workers[1:]
        for event in worker.events()
        if event.get("event") == "task claimed" and event.get("task_id") == victim_task
    ]
    assert reclaims and min(reclaims) - killed_at <= LEASE_S + 5  # re-claimed within lease + 5 s

    for n, (task_id, result) in enumerate(results.items()):
        if n % 10 == 0:  # every link is a presigned S3 URL; download a sample and check the video
            target = tmp_path / f"{task_id}.mp4"
            target.write_bytes(httpx.get(result["output"]["video_url"], timeout=30).content)
            assert probe(target).frames == 32
        else:
            assert httpx.head(result["output"]["video_url"], timeout=30).status_code in {200, 403}
    # (HEAD on a URL presigned for GET is refused by S3; the GETs above prove the links.)
    _assert_keys_stay_apart(api[0], owner)


def _wait_for_claim_by(url: str, worker: WorkerProcess, timeout_s: float) -> str:
    engine = create_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(tasks.c.task_id, tasks.c.lease_owner).where(tasks.c.status == "RUNNING")
                ).all()
            for task_id, lease_owner in rows:
                if lease_owner and f":{worker.pid}:" in lease_owner:
                    return str(task_id)
            time.sleep(0.05)
    finally:
        engine.dispose()
    raise TimeoutError("the first worker never claimed a task")


def _assert_keys_stay_apart(server: Server, owner: dict[str, str]) -> None:
    server.start()
    try:
        by_key = Counter(owner.values())
        for key, count in by_key.items():
            listed = httpx.get(
                f"{server.base_url}/api/v1/tasks?page_size=100", headers={"Authorization": f"Bearer {key}"}
            ).json()
            assert listed["total"] == count
            assert {item["task_id"] for item in listed["data"]} == {t for t, k in owner.items() if k == key}
        task_id, key = next(iter(owner.items()))
        stranger = next(k for k in by_key if k != key)
        assert query(server.base_url, stranger, task_id)["output"]["task_status"] == "UNKNOWN"
    finally:
        server.stop()
