"""The web playground: a static page at /playground that drives the public API with the user's key, and the two
small read-only extensions it needs (the served models' rules, a task's parameters)."""

from __future__ import annotations

from fastapi import FastAPI

from videosynth.api.playground import extensions, page


def register(app: FastAPI) -> None:
    """After the hot paths: nothing here is matched before a create or a poll."""
    extensions.register(app)
    page.register(app)
