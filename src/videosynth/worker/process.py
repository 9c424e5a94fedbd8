"""`videosynth worker`: build the worker from settings, install signal handling, run until drained."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from prometheus_client import CollectorRegistry

from videosynth import compose
from videosynth.backends.base import Backend
from videosynth.backends.factories import build_backend
from videosynth.backends.ranks import Leader, Ranks, follow, join_group
from videosynth.media.image import ImageLimits
from videosynth.media.provenance import SigningIdentity
from videosynth.prompting.factory import build_extender, preload
from videosynth.registry import ModelEntry, Registry, WanEntry, registry_for_settings
from videosynth.settings import Settings
from videosynth.worker.metrics import WorkerMetrics
from videosynth.worker.runner import AudioPolicy, Worker, WorkerConfig

log = logging.getLogger(__name__)


def build_worker(
    settings: Settings, model: str | None = None, instrument: Callable[[Backend], Backend] | None = None
) -> Worker:
    """The worker for ``model`` (default: the registry's default entry); ``instrument`` wraps its backend (the
    overlap benchmark times each run())."""
    tasks, _keys = compose.stores(settings)
    scratch = settings.data_dir / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    registry = registry_for_settings(settings)
    entry = _entry(registry, model)
    # The backend the registry names for the entry; a model is loaded once, before the first claim, and stays.
    metrics_registry = CollectorRegistry()  # the worker's metrics and its backend's (a relay's upstream requests)
    backend = build_backend(settings, entry, metrics_registry)
    if instrument is not None:
        backend = instrument(backend)
    config = WorkerConfig(
        worker_id=compose.worker_id(),
        lease_s=settings.lease_s,
        heartbeat_s=settings.heartbeat_s,
        max_attempts=settings.max_attempts,
        poll_interval_s=settings.poll_interval_s,
        scratch_dir=scratch,
        # Claim only what this model serves: with several entries, each GPU worker takes its own model's tasks.
        models=registry.public_names_for(entry.name),
        audio=AudioPolicy(settings.audio_max_bytes, settings.audio_timeout_s, settings.audio_allow_private),
        images=ImageLimits(
            settings.image_max_bytes, settings.image_timeout_s, settings.image_allow_private, settings.image_max_pixels
        ),
        retention_s=settings.retention_s,
        retention_sweep_s=settings.retention_sweep_s,
        provenance=signing_identity(settings),
        overlap=settings.worker_overlap,
    )
    extender = build_extender(settings)
    preload(extender)
    metrics = WorkerMetrics(metrics_registry, device=backend.device)  # "cuda:0", not "auto"
    if settings.worker_metrics_port is not None:
        server = metrics.serve(settings.worker_metrics_port)
        log.info("worker metrics", extra={"url": f"http://{server.host}:{server.port}/metrics"})
    return Worker(tasks, compose.blob_store(settings), backend, extender, config, metrics)


def signing_identity(settings: Settings) -> SigningIdentity | None:
    """The C2PA signing identity, read and checked now; None (said in the log) when none is configured."""
    if settings.c2pa_cert is None or settings.c2pa_key is None:
        log.warning("no C2PA certificate configured: videos carry no provenance manifest (README: Provenance)")
        return None
    return SigningIdentity.from_files(
        settings.c2pa_cert, settings.c2pa_key, settings.c2pa_alg, settings.c2pa_timestamp_url
    )


def run_worker(settings: Settings, model: str | None = None) -> None:
    """Run a worker until it has drained: one process, or, under torchrun, one rank of a multi-GPU worker."""
    ranks = Ranks.from_environment()
    if ranks.world_size > 1:
        run_ranked_worker(settings, model, ranks)
    else:
        _run(build_worker(settings, model), settings.drain_grace_s)


def _run(worker: Worker, drain_grace_s: float) -> None:
    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # First SIGTERM/SIGINT: drain (finish the current task, claim no more) for up to drain_grace_s, then give
        # the task back. A second signal gives it back at once.
        if worker.stop.is_set():
            worker.abort.set()
        else:
            timer = threading.Timer(drain_grace_s, worker.abort.set)
            timer.daemon = True
            timer.start()
        worker.stop.set()
        log.info("worker signal", extra={"signal": signal.Signals(signum).name})

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    worker.run()


def run_ranked_worker(settings: Settings, model: str | None, ranks: Ranks) -> None:
    """One rank of a worker that splits each video across ``ranks.world_size`` GPUs (backends/ranks.py): rank 0
    claims and finishes tasks; the others only follow its generations. Started by ``torchrun --nproc-per-node N``."""
    from videosynth.backends.wan import WanGenerator, resolve_checkpoint  # here: a relay worker loads no torch

    entry = _entry(registry_for_settings(settings), model)
    if not isinstance(entry, WanEntry) or entry.ulysses_degree != ranks.world_size:
        degree = entry.ulysses_degree if isinstance(entry, WanEntry) else 1
        raise SystemExit(
            f"a worker of {ranks.world_size} ranks serves a Wan entry with ulysses_degree = {ranks.world_size}; "
            f"{entry.name!r} has {degree}"
        )
    device = ranks.device(settings.device)
    settings = settings.model_copy(update={"device": device})
    # Before the group exists: inside one, transformers writes a checkpoint's files from rank 0 only, and a demo
    # model that another rank saved would lack its text encoder.
    resolve_checkpoint(entry, settings)
    group = join_group(ranks, device, settings.ranks_timeout_s)
    log.info("worker rank", extra={"rank": ranks.rank, "world_size": ranks.world_size, "device": device})
    if not ranks.leader:
        # The leader drains the group: a signal here would leave it waiting in a collective.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        generator = build_backend(settings, entry, CollectorRegistry())
        assert isinstance(generator, WanGenerator)  # a WanEntry's backend
        jobs = follow(generator.generate, group, settings.ranks_timeout_s)
        log.info("follower done", extra={"rank": ranks.rank, "jobs": jobs})
        return
    leaders: list[Leader] = []

    def lead(backend: Backend) -> Backend:
        leaders.append(Leader(backend, group, ranks.world_size, settings.ranks_timeout_s))
        return leaders[0]

    worker = build_worker(settings, model, instrument=lead)
    leader = leaders[0]

    def stop_now() -> None:  # claim nothing more: the group is gone
        worker.stop.set()
        worker.abort.set()

    leader.on_broken = stop_now
    try:
        _run(worker, settings.drain_grace_s)
    finally:
        leader.close()
    if leader.broken:
        raise SystemExit("a rank of this worker's group is gone; restart the group (its task went back to the queue)")


def _entry(registry: Registry, model: str | None) -> ModelEntry:
    return registry.entry_for(model) if model else registry.default_entry()
