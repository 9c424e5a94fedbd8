"""Schema migrations, run from code: `videosynth migrate` calls upgrade(); every other entry point calls
check_current() and refuses to start on an old schema rather than fail later on a missing column."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from videosynth.store.engine import make_engine
from videosynth.store.protocols import SchemaOutOfDate

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def upgrade(url: str | Engine, revision: str = "head") -> None:
    """Bring the database to the newest revision (or ``revision``) in one transaction (DDL is transactional on
    both databases)."""
    with _engine(url) as engine, engine.begin() as connection:
        command.upgrade(_config(connection), revision)


def current_revision(url: str | Engine) -> str | None:
    """The database's revision; None for a database never migrated."""
    with _engine(url) as engine, engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"No migrations found in {MIGRATIONS_DIR}.")
    return head


def check_current(url: str | Engine) -> None:
    """Raise SchemaOutOfDate unless the database is exactly at this release's head revision."""
    current, head = current_revision(url), head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutOfDate(
            f"The database has no videosynth schema yet (this release needs revision {head}). "
            "Run `videosynth migrate` first."
        )
    if current not in _known_revisions():
        raise SchemaOutOfDate(
            f"The database schema is at revision {current}, written by a newer videosynth release than this "
            f"one (which knows up to {head}). Upgrade videosynth."
        )
    raise SchemaOutOfDate(
        f"The database schema is at revision {current} but this release needs {head}. Run `videosynth migrate`."
    )


def _config(connection: Connection | None = None) -> Config:
    # Built in code so an installed package needs no alembic.ini; '%' is ConfigParser interpolation syntax.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


@contextmanager
def _engine(url: str | Engine) -> Iterator[Engine]:
    """The caller's engine as is, or a short-lived one for a URL (disposed: no pool outlives the call)."""
    if isinstance(url, Engine):
        yield url
        return
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
