"""PostgreSQL pooled connections are pinged before use only after sitting idle (store/engine.IDLE_PING_S)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from videosynth.store import engine as engine_module
from videosynth.store.engine import make_engine


def kill_pooled_connection(engine: Engine) -> None:
    """What a server restart or an idle-connection reaper does to the connection the pool holds."""
    with engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    admin = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        with admin.connect() as conn:
            assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar_one() is True
    finally:
        admin.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(
    pg_empty_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 0.0)  # every connection counts as idle
    engine = make_engine(pg_empty_url)
    try:
        kill_pooled_connection(engine)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(pg_empty_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine_module, "IDLE_PING_S", 3600.0)  # never idle long enough
    engine = make_engine(pg_empty_url)
    try:
        kill_pooled_connection(engine)
        with pytest.raises(DBAPIError), engine.connect() as conn:  # no ping: the dead connection is used
            conn.exec_driver_sql("SELECT 1")
        with engine.connect() as conn:  # and then dropped from the pool
            assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        engine.dispose()
