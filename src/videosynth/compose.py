"""Composition shared by the API and worker entry points: stores and storage from one Settings."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine

from videosynth.settings import Settings
from videosynth.storage.local import LocalBlobStore
from videosynth.storage.protocols import BlobStore
from videosynth.store import migrate
from videosynth.store.checkpoint import WalCheckpointer
from videosynth.store.protocols import KeyTaskReader, Writer
from videosynth.store.reads import key_task_reader
from videosynth.store.sql import SqlKeyStore, SqlTaskStore, open_stores
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


@dataclass(frozen=True)
class Stores:
    """Everything persistent, over one engine (one connection pool per process)."""

    tasks: SqlTaskStore
    keys: SqlKeyStore
    reader: KeyTaskReader
    writer: Writer
    engine: Engine

    def background(self) -> list[WalCheckpointer]:
        """What a long-running process over these stores runs beside them (started and stopped by its owner)."""
        return [WalCheckpointer(self.engine)] if self.engine.dialect.name == "sqlite" else []


def open_all(settings: Settings) -> Stores:
    tasks, keys, engine = open_stores(settings.resolved_database_url())
    return Stores(tasks, keys, key_task_reader(engine), ThreadWriter(tasks), engine)


def stores(settings: Settings) -> tuple[SqlTaskStore, SqlKeyStore]:
    opened = open_all(settings)
    return opened.tasks, opened.keys


def local_blobs(settings: Settings) -> LocalBlobStore:
    return LocalBlobStore(settings.resolved_results_dir(), settings.signing_key())


def blob_store(settings: Settings) -> BlobStore:
    """Where results go: the local folder (served by /files) or an S3-compatible bucket (presigned links)."""
    if settings.storage == "local":
        return local_blobs(settings)
    if settings.storage.startswith("s3://"):
        from videosynth.storage.s3 import S3BlobStore

        s3: BlobStore = S3BlobStore.from_settings(settings)
        return s3
    raise ValueError(f"VIDEOSYNTH_STORAGE must be 'local' or 's3://bucket[/prefix]', got {settings.storage!r}")


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
