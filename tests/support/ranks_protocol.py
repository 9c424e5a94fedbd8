"""The two ranks of the leader/follower protocol test (importable, so torch.multiprocessing can spawn them)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from tests.support.tasks import make_task
from videosynth.backends.base import Capabilities, GenerationAborted, GenerationJob, RunContext, StepCallback
from videosynth.backends.ranks import Leader, follow

STEPS = 4
JOBS = {
    "fails alike": GenerationJob("fail", "", 16, 16, 1, seed=1),
    "made": GenerationJob("a fox", "", 16, 16, 1, seed=2),
    "aborted": GenerationJob("a cat", "", 16, 16, 1, seed=3),
}


def generate(job: GenerationJob, on_step: StepCallback) -> np.ndarray:
    """Both ranks' model: steps reported one by one; the prompt "fail" fails at its second step on every rank."""
    for step in range(1, STEPS + 1):
        if job.prompt == "fail" and step == 2:
            raise ValueError("this model cannot make that")
        on_step(step, STEPS)
    return np.full((1, 16, 16, 3), job.seed, np.uint8)


class Model:
    capabilities = Capabilities(fps=16, spatial_multiple=16, temporal_factor=4, max_pixels=None)
    device = "cpu"

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        return {"backend": "toy"}

    def run(self, job: GenerationJob, context: RunContext) -> np.ndarray:
        return generate(job, context.on_step)


def _context(abort_at: int | None) -> RunContext:
    def on_step(step: int, _total: int) -> None:
        if step == abort_at:
            raise GenerationAborted()

    task = make_task()
    return RunContext(task.task_id, task.request, on_step, {}, lambda _state: None, Path("."))


def rank_main(rank: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    group = dist.new_group(backend="gloo")
    outcome: dict[str, Any] = {}
    try:
        if rank == 1:
            outcome["jobs"] = follow(generate, group, timeout_s=20)
        else:
            leader = Leader(Model(), group, world_size=2, timeout_s=20)
            for name, job in JOBS.items():
                try:
                    frames = leader.run(job, _context(abort_at=2 if name == "aborted" else None))
                    outcome[name] = int(frames[0, 0, 0, 0])
                except (ValueError, GenerationAborted) as exc:
                    outcome[name] = type(exc).__name__
            outcome["broken"] = leader.broken
            leader.close()
    finally:
        Path(out_dir, f"rank{rank}.json").write_text(json.dumps(outcome))
        dist.destroy_process_group()
