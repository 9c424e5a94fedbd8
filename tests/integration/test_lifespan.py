"""What the app serves with (engine, the poll's reader, the writer thread, SQLite's WAL checkpointer) is opened
when it starts serving and closed when it stops, not when it is built; an app can serve again after a stop, on
another event loop."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url
from tests.integration.conftest import pg_schema

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings
from videosynth.store import migrate

CREATE = "/api/v1/services/aigc/video-generation/video-synthesis"


def threads(prefix: str) -> int:
    return sum(thread.name.startswith(prefix) for thread in threading.enumerate())


def create_and_poll(client: TestClient, secret: str) -> None:
    auth = {"Authorization": f"Bearer {secret}", "X-DashScope-Async": "enable"}
    created = client.post(CREATE, headers=auth, json={"model": "wan2.7-t2v", "input": {"prompt": "x"}})
    assert created.status_code == 200, created.text
    task_id = created.json()["output"]["task_id"]
    assert client.get(f"/api/v1/tasks/{task_id}", headers=auth).json()["output"]["task_status"] == "PENDING"


def test_sqlite_threads_live_exactly_as_long_as_the_app_serves(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    _, secret = keys.create("lifespan", 0)
    writers, checkpointers = threads("videosynth-writes"), threads("videosynth-wal-checkpoint")
    app = build_app(settings)
    assert (threads("videosynth-writes"), threads("videosynth-wal-checkpoint")) == (writers, checkpointers)
    for _serving in range(2):  # a second start opens everything afresh, on the new loop
        with TestClient(app) as client:
            assert threads("videosynth-wal-checkpoint") == checkpointers + 1
            create_and_poll(client, secret)
            assert threads("videosynth-writes") == writers + 1
        assert (threads("videosynth-writes"), threads("videosynth-wal-checkpoint")) == (writers, checkpointers)


def settles_at(count: Callable[[], int], expected: int, within_s: float = 5.0) -> bool:
    """A closed connection leaves pg_stat_activity when its server process has ended, a moment later."""
    deadline = time.monotonic() + within_s
    while count() != expected:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def tagged_pg_url(pg_base_url: str) -> Iterator[tuple[str, str]]:
    """A migrated schema, and a URL whose connections all carry one application_name (the reader's too)."""
    tag = f"vs_lifespan_{secrets.token_hex(4)}"
    with pg_schema(pg_base_url) as url:
        migrate.upgrade(url)
        yield make_url(url).update_query_dict({"application_name": tag}).render_as_string(hide_password=False), tag


def test_postgres_connections_are_opened_on_start_up_and_closed_on_shutdown(
    tagged_pg_url: tuple[str, str], pg_base_url: str, tmp_path: Path
) -> None:
    url, tag = tagged_pg_url
    observer = create_engine(pg_base_url)

    def connections() -> int:
        with observer.connect() as conn:
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %(tag)s"
            return int(conn.exec_driver_sql(query, {"tag": tag}).scalar_one())

    try:
        settings = Settings(data_dir=tmp_path, database_url=url)
        _, keys = compose.stores(settings)
        _, secret = keys.create("lifespan", 0)
        baseline = connections()  # the key store's pool (this test's own)
        app = build_app(settings)
        assert connections() == baseline  # building it opened nothing
        for _serving in range(2):
            with TestClient(app) as client:
                create_and_poll(client, secret)
                assert connections() >= baseline + 2  # the app's pool and the reader's async connection
            assert settles_at(connections, baseline)  # every one closed
    finally:
        observer.dispose()
