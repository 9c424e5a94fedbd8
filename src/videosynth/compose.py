"""Composition shared by the API and worker entry points: stores and storage from one Settings."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from videosynth.service import CancelForwarder
from videosynth.settings import Settings
from videosynth.storage.local import LocalBlobStore
from videosynth.storage.protocols import BlobStore
from videosynth.store import migrate, stats
from videosynth.store.checkpoint import WalCheckpointer
from videosynth.store.connect import open_stores
from videosynth.store.keys import SqlKeyStore
from videosynth.store.protocols import KeyTaskReader, TaskStore, Writer
from videosynth.store.queue import SqlTaskStore
from videosynth.store.reads import key_task_reader
from videosynth.store.writes import ThreadWriter


def is_sqlite(settings: Settings) -> bool:
    return settings.resolved_database_url().startswith("sqlite")


def prepare_database(settings: Settings, auto_migrate: bool) -> None:
    """The embedded SQLite file migrates itself; a shared database must be migrated by the operator."""
    url = settings.resolved_database_url()
    if auto_migrate and is_sqlite(settings):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        migrate.upgrade(url)
    migrate.check_current(url)


def stores(settings: Settings) -> tuple[SqlTaskStore, SqlKeyStore]:
    tasks, keys, _engine = open_stores(settings.resolved_database_url())
    return tasks, keys


@dataclass(frozen=True)
class ApiStores:
    """What an API process keeps open while it serves, over one engine (one connection pool per process)."""

    tasks: TaskStore
    reader: KeyTaskReader  # the poll's read path, on the event loop
    writer: Writer  # every write, on the writer thread
    engine: Engine

    def queue_figures(self, now_ms: int) -> stats.QueueStats:
        """The task table's monitoring figures (the /metrics scrape)."""
        return stats.snapshot(self.engine, now_ms)


@asynccontextmanager
async def api_stores(settings: Settings) -> AsyncIterator[ApiStores]:
    """The API's stores, opened on entry and closed on exit in reverse order: the engine, the poll's reader, the
    writer thread and, on SQLite, the WAL checkpointer thread (store/checkpoint.py). Used from the app's
    lifespan, so the reader and the writer belong to the event loop that serves the requests."""
    async with AsyncExitStack() as opened:
        tasks, _keys, engine = open_stores(settings.resolved_database_url())
        opened.callback(engine.dispose)
        reader = key_task_reader(engine)
        opened.push_async_callback(reader.aclose)
        writer = ThreadWriter(tasks)
        opened.callback(writer.close)
        if engine.dialect.name == "sqlite":
            opened.callback(WalCheckpointer(engine).start().stop)
        yield ApiStores(tasks, reader, writer, engine)


def readiness_check(settings: Settings, stores: ApiStores, blobs: BlobStore) -> Callable[[], dict[str, Any]]:
    """GET /readyz's report: database reachable and migrated, storage reachable, prompt extension's state."""

    def readiness() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            migrate.check_current(stores.engine)  # the app's pool: no engine built and dropped per probe
            checks["database"] = {"ok": True, "pending_tasks": stores.tasks.count_pending()}
        except Exception as exc:  # report, never raise: readiness is for load balancers
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        checks["storage"] = {"ok": _storage_ok(blobs, settings)}
        checks["prompt_extension"] = _describe_extension(settings)
        checks["provenance"] = describe_provenance(settings)  # informational: unsigned output is still served
        return {"ready": all(c["ok"] for c in checks.values() if isinstance(c, dict)), **checks}

    return readiness


def _storage_ok(blobs: BlobStore, settings: Settings) -> bool:
    if isinstance(blobs, LocalBlobStore):
        results = settings.resolved_results_dir()
        return results.is_dir() and os.access(results, os.W_OK)
    try:
        blobs.exists("readyz-probe")  # a HEAD on the bucket: proves endpoint, credentials and bucket
    except Exception:
        return False
    return True


def _describe_extension(settings: Settings) -> str:
    from videosynth.prompting.factory import describe

    return describe(settings)


def describe_provenance(settings: Settings) -> dict[str, Any]:
    """/readyz's word on provenance: whether videos are signed, and with which certificate file."""
    if settings.c2pa_cert is None:
        return {"ok": True, "signed": False, "reason": "no C2PA certificate configured (VIDEOSYNTH_C2PA_CERT)"}
    return {"ok": True, "signed": True, "certificate": str(settings.c2pa_cert), "alg": settings.c2pa_alg}


def cancel_forwarder(settings: Settings) -> CancelForwarder | None:
    """What forwards a cancel of a running relayed task upstream; None when no public name is relayed."""
    from videosynth.registry import registry_for_settings
    from videosynth.upstream_cancel import UpstreamCancels

    cancels = UpstreamCancels.from_registry(registry_for_settings(settings))
    return cancels if cancels.routes else None


def results_are_local(settings: Settings) -> bool:
    """Results in the local folder, downloaded through the API's signed /files links (else presigned S3 links)."""
    return settings.storage == "local"


def signed_files(blobs: BlobStore) -> LocalBlobStore | None:
    """The local result folder the API's /files serves, when results are kept there."""
    return blobs if isinstance(blobs, LocalBlobStore) else None


def local_blobs(settings: Settings) -> LocalBlobStore:
    return LocalBlobStore(settings.resolved_results_dir(), settings.signing_key())


def blob_store(settings: Settings) -> BlobStore:
    """Where results go: the local folder (served by /files) or an S3-compatible bucket (presigned links)."""
    if results_are_local(settings):
        return local_blobs(settings)
    if settings.storage.startswith("s3://"):
        from videosynth.storage.s3 import S3BlobStore

        s3: BlobStore = S3BlobStore.from_settings(settings)
        return s3
    raise ValueError(f"VIDEOSYNTH_STORAGE must be 'local' or 's3://bucket[/prefix]', got {settings.storage!r}")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
