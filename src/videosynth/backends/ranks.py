"""One video on several GPUs: a worker of N ranks (started by torchrun), rank 0 claiming tasks, the others following.

Every rank holds the whole pipeline; diffusers' context parallelism (backends.parallel) splits each forward's
tokens across the ranks, so every denoising step is a collective and all ranks must run the same job, step for
step. Rank 0 (the leader) runs the ordinary worker with its backend wrapped in :class:`Leader`: before a job it
sends the job to the followers, and after every step it tells them whether to go on, so a cancel, a lost lease or
a drain that aborts the leader's run aborts theirs at the same step and no rank is left waiting in a collective.
The followers (:func:`follow`) touch no database, store or network; they take jobs until the leader sends the end.
Control messages go over a CPU (gloo) group of their own, off the GPUs' streams. torch is imported inside
functions only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from videosynth.backends.base import (
    Backend,
    FinishedVideo,
    Frames,
    GenerationAborted,
    GenerationJob,
    RunContext,
    StepCallback,
    WrappedBackend,
)

log = logging.getLogger(__name__)

_GO, _ABORT, _END = "go", "abort", "end"  # what the leader says after a step, or instead of a job


@dataclass(frozen=True)
class Ranks:
    """This process's place in a torchrun group (``torchrun`` sets RANK, LOCAL_RANK and WORLD_SIZE)."""

    rank: int
    local_rank: int
    world_size: int

    @classmethod
    def from_environment(cls) -> Ranks:
        env = os.environ
        return cls(int(env.get("RANK", "0")), int(env.get("LOCAL_RANK", "0")), int(env.get("WORLD_SIZE", "1")))

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def device(self, configured: str) -> str:
        """The rank's own GPU for ``auto``/``cuda`` (cuda:LOCAL_RANK); anything else as configured."""
        import torch

        if configured in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank}"
        return "cpu" if configured == "auto" else configured


def join_group(ranks: Ranks, device: str, timeout_s: float) -> Any:
    """Join the torchrun group (NCCL between GPUs, gloo on CPU) and return the CPU group for control messages.
    ``timeout_s`` bounds every collective: a rank left waiting for a dead one gives up after it."""
    import torch
    import torch.distributed as dist

    if device.startswith("cuda"):
        torch.cuda.set_device(device)
    else:
        # diffusers 0.42 puts a rank on device `rank % torch.accelerator.device_count()`, 0 on a CPU-only torch:
        # the ranks of a CPU worker (tests, demos) share the one CPU "device".
        torch.accelerator.device_count = lambda: 1
    timeout = timedelta(seconds=timeout_s)
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo", timeout=timeout)
    return dist.new_group(backend="gloo", timeout=timeout)


def _send(message: Any, group: Any) -> None:
    import torch.distributed as dist

    dist.broadcast_object_list([message], src=0, group=group)


def _receive(group: Any) -> Any:
    import torch.distributed as dist

    box: list[Any] = [None]
    dist.broadcast_object_list(box, src=0, group=group)
    return box[0]


class GroupBroken(GenerationAborted):
    """A rank of the group is gone (killed, out of memory): the task goes back to the queue, and this group stops."""


class Leader(WrappedBackend):
    """Rank 0's backend: the local generator, with the followers kept in step (see the module's docstring).

    A run that fails for any reason but an abort ends with both sides meeting at a monitored barrier: a job that
    fails alike on every rank (a size the model refuses) leaves the group whole and the task fails as on one GPU;
    a rank that does not come (it died, or is stuck in a collective) means the group is broken: the run raises
    GroupBroken (the task is given back, not failed) and ``on_broken`` is called to stop the worker.
    """

    def __init__(self, inner: Backend, group: Any, world_size: int, timeout_s: float) -> None:
        super().__init__(inner)
        self._group, self._world_size, self._timeout_s = group, world_size, timeout_s
        self.on_broken: Callable[[], None] = lambda: None
        self.broken = False

    def recipe(self, job: GenerationJob) -> dict[str, Any]:
        return self.inner.recipe(job) | {"ranks": self._world_size}

    def run(self, job: GenerationJob, context: RunContext) -> Frames | FinishedVideo:
        def on_step(step: int, total: int) -> None:
            try:
                context.on_step(step, total)
            except BaseException:
                _send(_ABORT, self._group)  # the followers leave their run at this very step too
                raise
            _send(_GO, self._group)

        try:
            _send(job, self._group)
            return self.inner.run(job, replace(context, on_step=on_step))
        except GenerationAborted:
            raise
        except Exception as exc:
            if _all_met(self._group, self._timeout_s):
                raise  # every rank failed alike and is ready for the next job
            self.broken = True
            log.error("a rank of the group is gone; giving the task back and stopping", exc_info=exc)
            self.on_broken()
            raise GroupBroken() from exc

    def close(self) -> None:
        """Let the followers go (the worker has drained); nothing to say to a broken group."""
        if not self.broken:
            _send(_END, self._group)


def _all_met(group: Any, timeout_s: float) -> bool:
    import torch.distributed as dist

    try:
        dist.monitored_barrier(group=group, timeout=timedelta(seconds=timeout_s), wait_all_ranks=True)
    except RuntimeError:
        return False
    return True


def follow(generate: Callable[[GenerationJob, StepCallback], Any], group: Any, timeout_s: float) -> int:
    """A follower rank's life: run each job the leader sends, step for step with it; the number of jobs run.
    It ends when the leader sends the end, or raises when the leader is gone."""
    jobs = 0

    def on_step(_step: int, _total: int) -> None:
        if _receive(group) == _ABORT:
            raise GenerationAborted()

    while isinstance(job := _receive(group), GenerationJob):  # else the end
        jobs += 1
        try:
            generate(job, on_step)
        except GenerationAborted:
            log.info("follower aborted its run with the leader's")
        except Exception:
            log.exception("follower run failed")
            if not _all_met(group, timeout_s):  # meet the leader, which fails the task or finds the group broken
                raise
    return jobs
