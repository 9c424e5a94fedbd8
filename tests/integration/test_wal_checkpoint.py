"""SQLite's WAL is copied into the database file by the API process's checkpointer thread, not by commits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fastapi.testclient import TestClient
from tests.support.tasks import make_task

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings
from videosynth.store import migrate
from videosynth.store.checkpoint import WalCheckpointer
from videosynth.store.engine import WAL_BACKSTOP_PAGES, make_engine
from videosynth.store.queue import SqlTaskStore


def test_commits_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "videosynth.db"
    migrate.upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == WAL_BACKSTOP_PAGES
        store = SqlTaskStore(engine)
        for i in range(300):  # ~1,300 pages of WAL: past SQLite's default 1,000-page checkpoint
            store.create(make_task(key_id=f"k{i % 7}", submit_ms=i))
        checkpointer = WalCheckpointer(engine)
        wal, copied_before = checkpointer.checkpoint()
        assert wal > 1000 and copied_before == wal  # nothing had copied it: the commits did not checkpoint
        store.create(make_task(key_id="after"))  # a full checkpoint lets the next write restart the log
        assert checkpointer.checkpoint()[0] < 10
    finally:
        engine.dispose()


def test_the_checkpointer_thread_copies_the_wal_in_the_background(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'videosynth.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        store = SqlTaskStore(engine)
        for i in range(300):
            store.create(make_task(key_id=f"k{i % 7}", submit_ms=i))
        running = WalCheckpointer(engine, interval_s=0.05).start()
        time.sleep(0.5)
        running.stop()
        store.create(make_task(key_id="after"))  # the log was copied in full: this write restarts it
        wal, _copied = WalCheckpointer(engine).checkpoint()
        assert wal < 10
    finally:
        engine.dispose()


def checkpointer_threads() -> int:
    return sum(thread.name == "videosynth-wal-checkpoint" for thread in threading.enumerate())


def test_the_api_runs_the_checkpointer_while_it_serves(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    compose.prepare_database(settings, auto_migrate=True)
    before = checkpointer_threads()
    with TestClient(build_app(settings)):
        assert checkpointer_threads() == before + 1
    assert checkpointer_threads() == before  # stopped with the app
