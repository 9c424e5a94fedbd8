"""Alembic environment. Migrations run only through ``videosynth.store.migrate``, on the connection it hands
over in ``config.attributes["connection"]``: the engine (SQLite pragmas, PostgreSQL search_path) is the
caller's."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from videosynth.store.schema import metadata


def run_migrations() -> None:
    if context.is_offline_mode():
        raise RuntimeError("videosynth migrations run against a live database: use `videosynth migrate`.")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError("Run migrations through videosynth.store.migrate.upgrade(), which passes the connection.")
    # target_metadata/render_as_batch only matter to a developer autogenerating the next revision (batch mode
    # is how SQLite alters tables); runtime upgrades use the hand-written revisions as they are.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
