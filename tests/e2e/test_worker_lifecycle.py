"""A standalone worker drains on SIGTERM, gives work back past its grace period, and an old schema stops start-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.postgres import pg_schema, reachable_pg_url
from tests.support.processes import WorkerProcess
from tests.support.server import BASE_ENV, Server, query, submit

SLOW = {"VIDEOSYNTH_MODEL_STEPS": "40", "VIDEOSYNTH_EMBEDDED_WORKER": "false"}
BODY = {"model": "wan2.7-t2v", "input": {"prompt": "slow"}, "parameters": {"duration": 6}}


def _wait_status(server: Server, key: str, task_id: str, wanted: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if query(server.base_url, key, task_id)["output"]["task_status"] == wanted:
            return
        time.sleep(0.05)
    raise TimeoutError(f"task never reached {wanted}")


@pytest.mark.parametrize(("grace", "final"), [("600", "SUCCEEDED"), ("0", "PENDING")])
def test_sigterm_drains_or_gives_the_task_back(tmp_path: Path, grace: str, final: str) -> None:
    env = {**SLOW, "VIDEOSYNTH_DRAIN_GRACE_S": grace}
    api = Server(tmp_path, env, worker=False).start()
    worker = WorkerProcess(tmp_path / "worker", {**env, "VIDEOSYNTH_DATA_DIR": str(tmp_path)})
    try:
        key = api.create_key()
        first = submit(api.base_url, key, BODY).json()["output"]["task_id"]
        second = submit(api.base_url, key, BODY).json()["output"]["task_id"]
        worker.start()
        _wait_status(api, key, first, "RUNNING")
        assert worker.terminate(timeout_s=180) == 0  # a clean exit either way
        assert query(api.base_url, key, first)["output"]["task_status"] == final
        assert query(api.base_url, key, second)["output"]["task_status"] == "PENDING"  # no new claim while draining
    finally:
        worker.kill()
        api.stop()


def test_serve_refuses_an_unmigrated_shared_database(tmp_path: Path) -> None:
    # A shared PostgreSQL database is migrated by the operator (`videosynth migrate`); serve never migrates it.
    # A schema that was never migrated is the extreme case of an out-of-date one.
    with pg_schema(reachable_pg_url()) as never_migrated:
        env = {
            **os.environ,
            **BASE_ENV,
            "VIDEOSYNTH_DATA_DIR": str(tmp_path),
            "VIDEOSYNTH_DATABASE_URL": never_migrated,
        }
        done = subprocess.run(
            [sys.executable, "-m", "videosynth", "serve", "--port", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 2, done.stderr
    assert "videosynth migrate" in done.stderr and "Traceback" not in done.stderr
