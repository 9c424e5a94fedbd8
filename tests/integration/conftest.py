"""Store fixtures: every store test runs unchanged on a SQLite file and on the machine's PostgreSQL.

PostgreSQL: see tests/support/postgres.py. Each test session works in its own schema, dropped at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, delete
from tests.support.postgres import pg_schema, reachable_pg_url

from videosynth.storage.local import LocalBlobStore
from videosynth.store import migrate
from videosynth.store.engine import make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import metadata

BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_base_url() -> str:
    return reachable_pg_url()


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


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    """A local result folder of the test's own (its signing key a constant: links are not what is tested)."""
    return LocalBlobStore(tmp_path / "results", b"secret")
