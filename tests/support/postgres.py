"""The machine's PostgreSQL for tests: ``VIDEOSYNTH_TEST_PG_URL`` (default: postgres@127.0.0.1:5432/test, trust
auth), each user working in a randomly named schema of its own that is dropped afterwards.

Unreachable PostgreSQL skips those tests locally but fails them when ``CI=true``: CI must never pass without
PostgreSQL.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError

PG_URL_ENV = "VIDEOSYNTH_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def reachable_pg_url() -> str:
    """The PostgreSQL URL to test against, once it answers (else the test skips, or fails in CI)."""
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
