"""A worker of two ranks under torchrun (gloo on the CPU) splits each video across them with Ulysses attention.

Rank 0 claims, finishes and stores; rank 1 only follows its generations step by step. A drain that aborts the
leader mid-video aborts the follower at the same step: the task goes back to the queue, both ranks exit, and a
new group makes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import free_port
from tests.support.server import BASE_ENV, Server, query, stop_process, submit, wait_final

BODY = {
    "model": "wan2.7-t2v",
    "input": {"prompt": "a lighthouse at dusk"},
    "parameters": {"resolution": "720P", "ratio": "1:1", "duration": 2, "seed": 11, "prompt_extend": False},
}


def _registry(path: Path, steps: int) -> Path:
    """The packaged registry with its demo entry split two ways and ``steps`` long."""
    text = resources.files("videosynth").joinpath("registry.toml").read_text(encoding="utf-8")
    demo = 'checkpoint = "demo:wan2.1"\n'
    assert text.count(demo) == 1
    path.write_text(text.replace(demo, f"{demo}ulysses_degree = 2\n").replace("steps = 4\n", f"steps = {steps}\n", 1))
    return path


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Server]:
    server = Server(tmp_path / "data", worker=False).start()
    yield server
    server.stop()


class Group:
    """`torchrun --nproc-per-node 2 -m videosynth worker` with a registry of ``steps``, in a session of its own."""

    def __init__(self, api: Server, steps: int, **extra_env: str) -> None:
        registry = _registry(api.data_dir / f"registry-{steps}.toml", steps)
        env = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(api.data_dir), **extra_env}
        env["VIDEOSYNTH_MODEL_REGISTRY"] = str(registry)
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
        command += ["--master-port", str(free_port()), "-m", "videosynth", "worker"]
        self.log = api.data_dir / f"group-{steps}-{free_port()}.log"  # a file: a pipe nobody reads would block them
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                command, env=env, start_new_session=True, stdout=sink, stderr=subprocess.STDOUT
            )

    def rank_pid(self, rank: int, timeout_s: float = 60.0) -> int:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for pid in _children(self.process.pid):
                if f"RANK={rank}".encode() in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    return pid
            time.sleep(0.1)
        raise TimeoutError(f"no rank {rank}")

    def wait(self, timeout_s: float) -> int:
        return self.process.wait(timeout=timeout_s)

    def close(self) -> str:
        """End the group: SIGTERM (torchrun passes it on; the leader drains and lets its follower go), then SIGKILL
        for torchrun and every rank left, so no rank outlives its test."""
        ranks = _children(self.process.pid)
        stop_process(self.process)
        for pid in ranks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return self.log.read_text(errors="replace")


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in found.stdout.split()]


def _wait_step(api: Server, key: str, task_id: str, step: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        progress = query(api.base_url, key, task_id).get("progress") or {}
        if (progress.get("step") or 0) >= step:
            return
        time.sleep(0.1)
    raise TimeoutError(f"task {task_id} never reached step {step}")


def test_two_ranks_make_a_video_and_abort_together(api: Server) -> None:
    key = api.create_key()
    group = Group(api, steps=300)  # about 20 s: time to abort it mid-way
    try:
        task_id = submit(api.base_url, key, BODY).json()["output"]["task_id"]
        _wait_step(api, key, task_id, 2)
        leader = group.rank_pid(0)
        # Drain, then abort: the leader gives the task back at its next step, and the follower leaves that step too.
        os.kill(leader, signal.SIGTERM)
        time.sleep(0.3)
        os.kill(leader, signal.SIGTERM)
        exit_code = group.wait(60)  # both ranks left (a follower stuck in a collective would hang torchrun)
    finally:
        log = group.close()
    assert exit_code == 0, log[-4000:]
    assert "follower aborted its run with the leader's" in log, log[-4000:]
    left = query(api.base_url, key, task_id)["output"]
    assert left["task_status"] == "PENDING"  # given back, not lost, not failed

    done = _made_by_a_new_group(api, key, task_id)
    backend = done["reproducibility"]["backend"]
    assert (backend["ulysses_degree"], backend["ranks"], backend["steps"]) == (2, 2, 8)
    assert len(done["reproducibility"]["output"]["frames_sha256"]) == 64


def test_a_rank_that_dies_mid_video_gives_the_task_back_and_ends_its_group(api: Server) -> None:
    key = api.create_key()
    group = Group(api, steps=300, VIDEOSYNTH_RANKS_TIMEOUT_S="20")
    try:
        task_id = submit(api.base_url, key, BODY).json()["output"]["task_id"]
        _wait_step(api, key, task_id, 2)
        os.kill(group.rank_pid(1), signal.SIGKILL)  # out of memory on one GPU, say
        exit_code = group.wait(90)
    finally:
        log = group.close()
    assert exit_code != 0, log[-4000:]  # the group ends: torchrun (or its operator) starts a fresh one
    left = query(api.base_url, key, task_id)["output"]
    assert left["task_status"] == "PENDING", (left, log[-4000:])  # given back, not failed
    assert "a rank of the group is gone; giving the task back and stopping" in log, log[-4000:]

    _made_by_a_new_group(api, key, task_id)


def _made_by_a_new_group(api: Server, key: str, task_id: str) -> dict[str, Any]:
    """The task given back, made by a fresh group (8 steps), SUCCEEDED: its output."""
    again = Group(api, steps=8)
    try:
        done: dict[str, Any] = wait_final(api.base_url, key, task_id, timeout_s=240)["output"]
    finally:
        again.close()
    assert done["task_status"] == "SUCCEEDED", done
    return done


def test_no_rank_outlives_a_sigkilled_torchrun(api: Server) -> None:
    group = Group(api, steps=8)
    try:
        ranks = [group.rank_pid(0), group.rank_pid(1)]
        os.kill(group.process.pid, signal.SIGKILL)  # torchrun alone: its ranks learn it from the kernel
        group.process.wait(timeout=10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(_alive(pid) for pid in ranks):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in ranks)
    finally:
        group.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has exited


def test_a_group_refuses_an_entry_that_is_not_split_across_it(tmp_path: Path) -> None:
    env = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2"]
    command += ["--master-port", str(free_port()), "-m", "videosynth", "worker"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode != 0
    assert "a worker of 2 ranks serves a Wan entry with ulysses_degree = 2; 'demo' has 1" in done.stderr
