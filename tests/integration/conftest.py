"""Store fixtures: every store test runs unchanged on a SQLite file and on the machine's PostgreSQL.

PostgreSQL: ``VIDEOSYNTH_TEST_PG_URL`` (default: postgres@127.0.0.1:5432/test, trust auth). Each test session
works in its own randomly named schema, selected through the URL's search_path, and drops it at the end.
Unreachable PostgreSQL skips those tests locally but fails them when ``CI=true``: CI must never pass without
PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, delete, make_url
from sqlalchemy.exc import OperationalError

from videosynth.store import migrate
from videosynth.store.engine import make_engine
from videosynth.store.schema import metadata
from videosynth.store.sql import SqlKeyStore, SqlTaskStore

PG_URL_ENV = "VIDEOSYNTH_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    url = os.environ.get(PG_URL_ENV, DEFAULT_PG_URL)
    probe = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with probe.connect():
            pass
    except OperationalError as exc:
        reason = f"PostgreSQL is not reachable at {url} ({type(exc.orig).__name__}); set {PG_URL_ENV}."
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        probe.dispose()
    return url


@contextmanager
def pg_schema(base_url: str) -> Iterator[str]:
    """A fresh schema; yields a URL whose connections see only it (search_path), then drops it."""
    name = f"vs_test_{secrets.token_hex(6)}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    try:
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={name}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        admin.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = sqlite_url(tmp_path_factory.mktemp("store") / "videosynth.db")
    migrate.upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgresql_db(pg_base_url: str) -> Iterator[Engine]:
    with pg_schema(pg_base_url) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest) -> Engine:
    """The backend's migrated database, emptied: migrating once per session keeps the suite fast."""
    db: Engine = request.getfixturevalue(f"{backend}_db")
    with db.begin() as conn:
        for table in reversed(metadata.sorted_tables):  # every table but alembic's
            conn.execute(delete(table))
    return db


@pytest.fixture
def db_url(engine: Engine) -> str:
    """URL of ``engine``'s database, for tests that need engines of their own (one per simulated process)."""
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database never migrated (SQLite: a file not there yet, in a folder not there either)."""
    if backend == "sqlite":
        return sqlite_url(tmp_path / "new" / "folder" / "videosynth.db")
    return str(request.getfixturevalue("pg_empty_url"))


@pytest.fixture
def pg_empty_url(pg_base_url: str) -> Iterator[str]:
    with pg_schema(pg_base_url) as url:
        yield url


@pytest.fixture
def task_store(engine: Engine) -> SqlTaskStore:
    return SqlTaskStore(engine)


@pytest.fixture
def key_store(engine: Engine) -> SqlKeyStore:
    return SqlKeyStore(engine)
