"""Per-key queue quota and request rate limit, shared by two API replicas on one database: the SQLite file in
their shared data dir, or one PostgreSQL schema (the scale-out setup, where only the database is shared)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import pg_schema, reachable_pg_url
from tests.support.server import Server, query, submit, videosynth

BODY = {"model": "wan2.7-t2v", "input": {"prompt": "x"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The replicas' database settings; PostgreSQL in a fresh schema, migrated as an operator would."""
    if request.param == "sqlite":
        yield {}
        return
    with pg_schema(reachable_pg_url()) as url:
        env = {"VIDEOSYNTH_DATABASE_URL": url}
        videosynth(tmp_path / "ops", "migrate", env=env)
        yield env


@pytest.fixture
def replicas(
    tmp_path: Path, database: dict[str, str], request: pytest.FixtureRequest
) -> Iterator[tuple[Server, Server]]:
    env: dict[str, str] = {**request.param, **database}
    # On PostgreSQL each replica has a data dir of its own: nothing but the database is shared, as across hosts.
    first_dir, second_dir = (tmp_path / "a", tmp_path / "b") if database else (tmp_path, tmp_path)
    first = Server(first_dir, env, worker=False).start()
    second = Server(second_dir, env, worker=False).start()
    yield first, second
    first.stop()
    second.stop()


@pytest.mark.parametrize("replicas", [{"VIDEOSYNTH_KEY_MAX_QUEUED": "3"}], indirect=True)
def test_queue_quota_holds_across_replicas(replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    key, other = first.create_key("quota"), first.create_key("quota-other")
    created = [submit(server.base_url, key, BODY) for server in (first, second, first)]
    assert [r.status_code for r in created] == [200, 200, 200]
    refused = submit(second.base_url, key, BODY)
    assert refused.status_code == 429
    assert refused.json()["code"] == "Throttling" and "limit 3" in refused.json()["message"]
    assert submit(first.base_url, other, BODY).status_code == 200  # another key is not affected
    task_id = created[0].json()["output"]["task_id"]
    assert query(second.base_url, key, task_id)["output"]["task_status"] == "PENDING"  # polls never 429
    httpx.post(f"{first.base_url}/api/v1/tasks/{task_id}/cancel", headers={"Authorization": f"Bearer {key}"})
    assert submit(second.base_url, key, BODY).status_code == 200  # a freed slot is usable again


@pytest.mark.parametrize("replicas", [{"VIDEOSYNTH_KEY_RATE_PER_MIN": "4"}], indirect=True)
def test_rate_limit_holds_across_replicas(replicas: tuple[Server, Server]) -> None:
    first, second = replicas
    key = first.create_key("rate")
    codes = [submit(server.base_url, key, BODY).status_code for server in (first, second, first, second, first)]
    assert codes == [200, 200, 200, 200, 429]
    limited = submit(second.base_url, key, BODY).json()
    assert limited["code"] == "Throttling.RateQuota" and "4 per minute" in limited["message"]
