"""The poll's read path (store/reads.py) on SQLite and PostgreSQL: one query for key and task, batched on PG."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from tests.support.tasks import T0, make_task

from videosynth.domain.task import TaskStatus
from videosynth.store.keys import SqlKeyStore
from videosynth.store.protocols import KeyAndTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.reads import PostgresKeyTaskReader, key_task_reader


def find(engine: Engine, pairs: list[tuple[str, str]]) -> list[KeyAndTask]:
    """Look every pair up concurrently (so PostgreSQL batches them) through a fresh reader, then close it."""

    async def run() -> list[KeyAndTask]:
        reader = key_task_reader(engine)
        try:
            return list(await asyncio.gather(*(reader.find(s, t) for s, t in pairs)))
        finally:
            await reader.aclose()

    return asyncio.run(run())


def test_the_key_and_its_own_task_come_back_whole(engine: Engine) -> None:
    keys, store = SqlKeyStore(engine), SqlTaskStore(engine)
    key, secret = keys.create("alice", T0)
    task = make_task(key_id=key.key_id)
    store.create(task)
    store.claim("w", None, T0 + 5, lease_s=60)
    store.finish_success(task.task_id, "w", T0 + 9, "r/x.mp4", {"video_count": 1}, "rich prompt", {"used": True})
    [found] = find(engine, [(secret, task.task_id)])
    assert found.key == key
    assert found.task == store.get(task.task_id)  # JSON columns decoded exactly as the SQLAlchemy store does
    assert found.task is not None and found.task.status is TaskStatus.SUCCEEDED
    assert found.task.usage == {"video_count": 1} and found.task.extension == {"used": True}


def test_unknown_and_foreign_tasks_look_the_same(engine: Engine) -> None:
    keys, store = SqlKeyStore(engine), SqlTaskStore(engine)
    alice, alice_secret = keys.create("alice", T0)
    bob, _ = keys.create("bob", T0)
    bobs = store.create(make_task(key_id=bob.key_id))
    found = find(engine, [(alice_secret, bobs.task_id), (alice_secret, "no-such-task")])
    assert found == [KeyAndTask(alice, None), KeyAndTask(alice, None)]


def test_unknown_and_revoked_keys_find_nothing(engine: Engine) -> None:
    keys, store = SqlKeyStore(engine), SqlTaskStore(engine)
    key, secret = keys.create("gone", T0)
    task = store.create(make_task(key_id=key.key_id))
    assert keys.revoke("gone", T0 + 1) == 1
    found = find(engine, [(secret, task.task_id), ("sk-not-a-key", task.task_id)])
    assert found == [KeyAndTask(None, None), KeyAndTask(None, None)]


def test_many_concurrent_lookups_each_get_their_own_answer(engine: Engine) -> None:
    keys, store = SqlKeyStore(engine), SqlTaskStore(engine)
    owners = [keys.create(f"k{i}", T0) for i in range(5)]
    tasks = [store.create(make_task(key_id=owners[i % 5][0].key_id, submit_ms=T0 + i)) for i in range(40)]
    # Every key asks for every task: 200 lookups, only the owner's 40 find their task.
    pairs = [(secret, task.task_id) for _key, secret in owners for task in tasks]
    found = find(engine, pairs)
    for (secret, task_id), result in zip(pairs, found, strict=True):
        owner = next(key for key, s in owners if s == secret)
        assert result.key == owner
        owns = next(t for t in tasks if t.task_id == task_id).key_id == owner.key_id
        assert (result.task is not None and result.task.task_id == task_id) if owns else result.task is None


def test_postgres_batches_concurrent_polls_into_few_queries(postgresql_db: Engine) -> None:
    """Batching is PostgreSQL's alone: SQLite answers each poll on the loop directly."""
    engine = postgresql_db
    key, secret = SqlKeyStore(engine).create("alice", T0)
    task = SqlTaskStore(engine).create(make_task(key_id=key.key_id))
    sizes: list[int] = []

    class Counting(PostgresKeyTaskReader):
        async def _query(self, pairs: list[tuple[str, str]]) -> list[KeyAndTask]:
            sizes.append(len(pairs))
            return await super()._query(pairs)

    async def run() -> list[KeyAndTask]:
        reader = Counting(engine, connections=2)
        try:
            return list(await asyncio.gather(*(reader.find(secret, task.task_id) for _ in range(100))))
        finally:
            await reader.aclose()

    found = asyncio.run(run())
    assert all(result.task is not None and result.task.task_id == task.task_id for result in found)
    assert sum(sizes) == 100 and len(sizes) <= 4  # 100 polls in a handful of queries, none lost or repeated


def test_postgres_reader_survives_a_dropped_connection(postgresql_db: Engine) -> None:
    engine = postgresql_db
    key, secret = SqlKeyStore(engine).create("alice", T0)
    task = SqlTaskStore(engine).create(make_task(key_id=key.key_id))

    async def run() -> tuple[KeyAndTask, KeyAndTask]:
        reader = key_task_reader(engine)
        try:
            first = await reader.find(secret, task.task_id)
            with engine.begin() as conn:  # what a server restart or an idle reaper does to the pooled connection
                killed = conn.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE pid <> pg_backend_pid() AND application_name = '' AND datname = current_database() "
                    "AND query LIKE '%%unnest%%'"
                ).all()
            assert len(killed) == 1
            second = await reader.find(secret, task.task_id)
            return first, second
        finally:
            await reader.aclose()

    first, second = asyncio.run(run())
    assert first == second and second.task is not None
