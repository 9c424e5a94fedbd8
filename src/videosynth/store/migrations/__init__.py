"""Alembic migrations, run programmatically by ``videosynth.store.migrate`` (no alembic.ini on disk)."""
