"""Opening the stores: one engine for a database URL, its schema checked, and both stores over it."""

from __future__ import annotations

from sqlalchemy import Engine

from videosynth.store import migrate
from videosynth.store.engine import make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.queue import SqlTaskStore


def open_stores(url: str, *, upgrade_schema: bool = False) -> tuple[SqlTaskStore, SqlKeyStore, Engine]:
    """Engine plus both stores for ``url``. Refuses an out-of-date schema (SchemaOutOfDate) unless asked to
    upgrade it, which the embedded single-process default may do; scale-out runs `videosynth migrate` once."""
    engine = make_engine(url)
    try:
        if upgrade_schema:
            migrate.upgrade(engine)
        else:
            migrate.check_current(engine)
    except BaseException:
        engine.dispose()
        raise
    return SqlTaskStore(engine), SqlKeyStore(engine), engine
