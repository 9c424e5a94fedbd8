"""TaskStore, KeyStore, engine and migrations on real databases (SQLite file, PostgreSQL; see conftest)."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, select, text, update
from tests.support.tasks import LEASE_S, MODEL, OTHER_MODEL, T0, make_task
from tests.support.threads import run_together

from videosynth.domain.task import Task, TaskStatus
from videosynth.store import migrate
from videosynth.store.connect import open_stores
from videosynth.store.engine import SQLITE_BUSY_TIMEOUT_MS, make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.protocols import IdempotencyConflict, SchemaOutOfDate
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import api_keys, key_usage, metadata, tasks

LEASE_MS = 10_000


def claimed(store: SqlTaskStore, task_id: str) -> Task:
    task = store.get(task_id)
    assert task is not None
    return task


# --- migrations and engine ----------------------------------------------------------------------------------


def test_empty_database_is_refused_until_migrated(empty_url: str) -> None:
    assert migrate.current_revision(empty_url) is None
    with pytest.raises(SchemaOutOfDate, match="videosynth migrate"):
        migrate.check_current(empty_url)
    with pytest.raises(SchemaOutOfDate):
        open_stores(empty_url)

    migrate.upgrade(empty_url)
    assert migrate.current_revision(empty_url) == migrate.head_revision() == "0011"
    migrate.check_current(empty_url)
    migrate.upgrade(empty_url)  # a second run is a no-op
    task_store, _, engine = open_stores(empty_url)
    try:
        task_store.create(make_task())
        assert task_store.count_pending() == 1
    finally:
        engine.dispose()


def bare_task_row(task_id: str, key_id: str, status: str) -> dict[str, object]:
    """A tasks row as an older release wrote it: the NOT NULL columns only."""
    return {
        "task_id": task_id,
        "key_id": key_id,
        "model": MODEL,
        "status": status,
        "request_json": {},
        "seed": 1,
        "request_id": "r",
        "submit_ms": T0,
        "progress": 0,
        "attempts": 0,
        "extension_json": {},
        "usage_json": {},
        "updated_ms": T0,
    }


def test_migration_0004_counts_each_keys_active_tasks_into_its_usage_row(empty_url: str) -> None:
    migrate.upgrade(empty_url, "0003")
    engine = make_engine(empty_url)
    try:
        rows = [("a", "PENDING"), ("a", "RUNNING"), ("a", "SUCCEEDED"), ("b", "CANCELED")]
        with engine.begin() as conn:
            for i, (key_id, status) in enumerate(rows):
                conn.execute(insert(tasks).values(bare_task_row(f"t{i}", key_id, status)))
            conn.execute(insert(api_keys).values(key_id="c", name="c", prefix="p", secret_hash="h", created_ms=T0))
        migrate.upgrade(engine)
        with engine.connect() as conn:
            usage = conn.execute(select(key_usage.c.key_id, key_usage.c.active, key_usage.c.rate_tat_ns)).all()
        assert sorted(map(tuple, usage)) == [("a", 2, 0), ("b", 0, 0), ("c", 0, 0)]
    finally:
        engine.dispose()


def test_postgresql_migration_stays_in_the_urls_schema(pg_empty_url: str) -> None:
    migrate.upgrade(pg_empty_url)
    engine = make_engine(pg_empty_url)
    try:
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
            found = conn.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :schema"),
                {"schema": schema},
            ).scalars()
            assert set(found) == {
                "tasks",
                "api_keys",
                "key_usage",
                "upstream_budget",
                "upstream_slots",
                "webhook_outbox",
                "uploads",
                "alembic_version",
            }
    finally:
        engine.dispose()
    assert schema.startswith("vs_test_")


def test_database_from_a_newer_release_is_reported(empty_url: str) -> None:
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        with pytest.raises(SchemaOutOfDate, match="newer videosynth release"):
            migrate.check_current(engine)
    finally:
        engine.dispose()


def test_migration_creates_exactly_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_engine_enables_wal_and_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "videosynth.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys", "synchronous")
            }
    finally:
        engine.dispose()
    expected = {
        "journal_mode": "wal",
        "busy_timeout": SQLITE_BUSY_TIMEOUT_MS,
        "foreign_keys": 1,
        "synchronous": 1,
    }
    assert pragmas == expected
    # WAL is a property of the file itself, so even a plain sqlite3 connection now sees it.
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_readers_are_not_blocked_by_an_open_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'videosynth.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    store = SqlTaskStore(engine)
    task = store.create(make_task())
    try:
        with engine.begin() as writer:
            writer.execute(update(tasks).values(progress=50))
            # Under WAL an API poll reads the last committed state while a worker's write is in flight.
            assert claimed(store, task.task_id).progress == 0
    finally:
        engine.dispose()


# --- create, get, idempotency -------------------------------------------------------------------------------


def test_create_and_get_round_trip(task_store: SqlTaskStore) -> None:
    task = make_task()
    assert task_store.create(task) == task
    assert task_store.get(task.task_id) == task
    assert task_store.get(str(uuid.uuid4())) is None


def test_create_only_inserts_pending_tasks(task_store: SqlTaskStore) -> None:
    running = Task(**{**make_task().__dict__, "status": TaskStatus.RUNNING})
    with pytest.raises(ValueError, match="PENDING"):
        task_store.create(running)


def test_idempotent_retry_with_the_same_body_returns_the_first_task(task_store: SqlTaskStore) -> None:
    first = task_store.create(make_task(), idempotency_key="retry-1", request_hash="h1")
    again = task_store.create(make_task(submit_ms=T0 + 5), idempotency_key="retry-1", request_hash="h1")
    assert again == first
    assert task_store.list("key-a", 1, 10).total == 1


def test_idempotency_key_reused_with_another_body_conflicts(task_store: SqlTaskStore) -> None:
    task_store.create(make_task(), idempotency_key="retry-1", request_hash="h1")
    with pytest.raises(IdempotencyConflict):
        task_store.create(make_task(), idempotency_key="retry-1", request_hash="h2")
    assert task_store.list("key-a", 1, 10).total == 1


def test_idempotency_keys_are_scoped_per_api_key(task_store: SqlTaskStore) -> None:
    mine = task_store.create(make_task(key_id="key-a"), idempotency_key="same", request_hash="h1")
    theirs = task_store.create(make_task(key_id="key-b"), idempotency_key="same", request_hash="h1")
    assert mine.task_id != theirs.task_id
    # Without a key nothing is deduplicated.
    task_store.create(make_task())
    task_store.create(make_task())
    assert task_store.list("key-a", 1, 10).total == 3


def test_concurrent_idempotent_creates_make_one_task(task_store: SqlTaskStore) -> None:
    results = run_together(
        8, lambda _: task_store.create(make_task(), idempotency_key="burst", request_hash="h1").task_id
    )
    assert len(set(results)) == 1
    assert task_store.list("key-a", 1, 10).total == 1


# --- claim --------------------------------------------------------------------------------------------------


def test_claim_takes_the_oldest_task_and_leases_it(task_store: SqlTaskStore) -> None:
    newer = task_store.create(make_task(submit_ms=T0 + 2))
    oldest = task_store.create(make_task(submit_ms=T0))
    tie_b = task_store.create(make_task(submit_ms=T0 + 1, task_id="b" + str(uuid.uuid4())[1:]))
    tie_a = task_store.create(make_task(submit_ms=T0 + 1, task_id="a" + str(uuid.uuid4())[1:]))

    now = T0 + 100
    got = task_store.claim("w1", None, now, LEASE_S)
    assert got is not None
    assert got.task_id == oldest.task_id
    assert (got.status, got.attempts, got.scheduled_ms, got.progress) == (TaskStatus.RUNNING, 1, now, 0)
    assert claimed(task_store, oldest.task_id) == got
    order = [task_store.claim("w1", None, now, LEASE_S) for _ in range(3)]
    assert [t.task_id for t in order if t] == [tie_a.task_id, tie_b.task_id, newer.task_id]
    assert task_store.claim("w1", None, now, LEASE_S) is None


def test_a_claim_is_never_scheduled_before_its_submit(task_store: SqlTaskStore) -> None:
    # The worker reads its clock, then its claim waits for the write lock while the create commits: a claim whose
    # clock is behind the task's submit time is scheduled at the submit time (seen in CI, 1 ms apart).
    task = task_store.create(make_task(submit_ms=T0 + 5))
    got = task_store.claim("w1", None, T0 + 4, LEASE_S)
    assert got is not None and got.task_id == task.task_id
    assert got.scheduled_ms == T0 + 5 and got.submit_ms <= got.scheduled_ms


def test_claim_only_takes_the_workers_models(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task(model=OTHER_MODEL))
    assert task_store.claim("w1", [MODEL], T0, LEASE_S) is None
    assert task_store.claim("w1", [], T0, LEASE_S) is None
    got = task_store.claim("w1", [MODEL, OTHER_MODEL], T0, LEASE_S)
    assert got is not None
    assert got.task_id == task.task_id


def test_concurrent_claimers_never_share_a_task(task_store: SqlTaskStore, db_url: str) -> None:
    created = {task_store.create(make_task(submit_ms=T0 + i)).task_id for i in range(40)}
    workers = 4
    # One engine per worker, as separate worker processes would have.
    engines = [make_engine(db_url) for _ in range(workers)]

    def drain(index: int) -> list[str]:
        store, taken = SqlTaskStore(engines[index]), []
        while (task := store.claim(f"w{index}", [MODEL], T0 + 1000, LEASE_S)) is not None:
            taken.append(task.task_id)
        return taken

    try:
        per_worker = run_together(workers, drain)
    finally:
        for engine in engines:
            engine.dispose()
    every_claim = [task_id for taken in per_worker for task_id in taken]
    assert len(every_claim) == len(set(every_claim)) == len(created)
    assert set(every_claim) == created
    assert all(claimed(task_store, task_id).attempts == 1 for task_id in created)


# --- heartbeat, finish, lease expiry, release ---------------------------------------------------------------


def test_heartbeat_extends_the_lease_and_progress_never_goes_back(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 8_000, LEASE_S, progress=40)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 9_000, LEASE_S, progress=20)
    assert task_store.heartbeat(task.task_id, "w1", T0 + 9_500, LEASE_S)
    assert claimed(task_store, task.task_id).progress == 40
    # The lease now runs to T0 + 9_500 + LEASE_MS, past the first claim's expiry.
    assert task_store.requeue_expired(T0 + LEASE_MS + 1, max_attempts=3) == 0
    assert task_store.requeue_expired(T0 + 9_500 + LEASE_MS + 1, max_attempts=3) == 1


def test_a_worker_that_lost_its_lease_can_no_longer_touch_the_task(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    # Expired means strictly past the lease end.
    assert task_store.requeue_expired(T0 + LEASE_MS, max_attempts=3) == 0
    assert task_store.requeue_expired(T0 + LEASE_MS + 1, max_attempts=3) == 1
    requeued = claimed(task_store, task.task_id)
    assert (requeued.status, requeued.progress, requeued.attempts) == (TaskStatus.PENDING, 0, 1)
    assert not task_store.heartbeat(task.task_id, "w1", T0 + 11_000, LEASE_S, progress=50)

    again = task_store.claim("w2", None, T0 + 12_000, LEASE_S)
    assert again is not None
    assert (again.attempts, again.scheduled_ms) == (2, T0)  # scheduled time is the first claim's
    assert not task_store.heartbeat(task.task_id, "w1", T0 + 13_000, LEASE_S)
    assert not task_store.finish_success(task.task_id, "w1", T0 + 13_000, "stale.mp4", {"video_count": 1})
    usage = {"duration": 5, "video_count": 1, "SR": 720}
    prompt = "扩写后的提示词"
    assert task_store.finish_success(
        task.task_id, "w2", T0 + 14_000, "videos/t.mp4", usage, actual_prompt=prompt, extension={"x": 1}
    )
    done = claimed(task_store, task.task_id)
    assert (done.status, done.end_ms, done.progress, done.result_key) == (
        TaskStatus.SUCCEEDED,
        T0 + 14_000,
        100,
        "videos/t.mp4",
    )
    assert (done.usage, done.actual_prompt, done.extension) == (usage, prompt, {"x": 1})
    assert not task_store.heartbeat(task.task_id, "w2", T0 + 15_000, LEASE_S)
    assert not task_store.finish_failure(task.task_id, "w2", T0 + 15_000, "InternalError", "late")


def test_an_expired_lease_not_yet_reclaimed_still_belongs_to_its_worker(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    late = T0 + LEASE_MS + 5_000
    assert task_store.heartbeat(task.task_id, "w1", late, LEASE_S, progress=90)
    assert task_store.requeue_expired(late + 1, max_attempts=3) == 0
    assert task_store.finish_success(task.task_id, "w1", late + 2, "videos/t.mp4", {"video_count": 1})


def test_expired_tasks_fail_after_max_attempts(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    now = T0
    for attempt in (1, 2, 3):
        got = task_store.claim(f"w{attempt}", None, now, LEASE_S)
        assert got is not None
        assert got.attempts == attempt
        now += LEASE_MS + 1
        assert task_store.requeue_expired(now, max_attempts=3) == 1
    failed = claimed(task_store, task.task_id)
    assert (failed.status, failed.error_code, failed.end_ms) == (TaskStatus.FAILED, "InternalError", now)
    assert failed.error_message == "The task was abandoned by its worker 3 times (lease expired); giving up."
    assert task_store.claim("w4", None, now, LEASE_S) is None
    assert task_store.requeue_expired(now + LEASE_MS * 10, max_attempts=3) == 0


def test_requeue_leaves_live_leases_and_other_states_alone(task_store: SqlTaskStore) -> None:
    live = task_store.create(make_task(submit_ms=T0))
    waiting = task_store.create(make_task(submit_ms=T0 + 1))
    task_store.claim("w1", None, T0, 30.0)
    assert task_store.requeue_expired(T0 + 29_000, max_attempts=1) == 0
    assert claimed(task_store, live.task_id).status is TaskStatus.RUNNING
    assert claimed(task_store, waiting.task_id).status is TaskStatus.PENDING


def test_finish_failure_records_the_error(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    assert not task_store.finish_failure(task.task_id, "someone-else", T0 + 1, "InternalError", "nope")
    assert task_store.finish_failure(task.task_id, "w1", T0 + 2, "DataInspectionFailed", "Output blocked.")
    failed = claimed(task_store, task.task_id)
    assert (failed.status, failed.end_ms, failed.error_code, failed.error_message) == (
        TaskStatus.FAILED,
        T0 + 2,
        "DataInspectionFailed",
        "Output blocked.",
    )


def test_release_gives_the_task_back_without_counting_the_attempt(task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task())
    task_store.claim("w1", None, T0, LEASE_S)
    task_store.heartbeat(task.task_id, "w1", T0 + 1, LEASE_S, progress=30)
    assert not task_store.release(task.task_id, "w2")
    assert task_store.release(task.task_id, "w1")
    released = claimed(task_store, task.task_id)
    assert (released.status, released.attempts, released.progress) == (TaskStatus.PENDING, 0, 0)
    assert not task_store.release(task.task_id, "w1")
    assert not task_store.heartbeat(task.task_id, "w1", T0 + 2, LEASE_S)
    again = task_store.claim("w2", None, T0 + 3, LEASE_S)
    assert again is not None
    assert again.attempts == 1


# --- cancel, list, count ------------------------------------------------------------------------------------


def test_cancel_only_wins_while_pending(task_store: SqlTaskStore) -> None:
    pending = task_store.create(make_task(submit_ms=T0 + 1))
    running = task_store.create(make_task(submit_ms=T0))
    task_store.claim("w1", None, T0, LEASE_S)

    canceled = task_store.cancel(pending.task_id, "key-a", T0 + 50)
    assert canceled is not None
    assert (canceled.status, canceled.end_ms) == (TaskStatus.CANCELED, T0 + 50)
    again = task_store.cancel(pending.task_id, "key-a", T0 + 60)
    assert again is not None
    assert again.end_ms == T0 + 50  # the first cancel stands
    lost = task_store.cancel(running.task_id, "key-a", T0 + 70)
    assert lost is not None
    assert (lost.status, lost.end_ms) == (TaskStatus.RUNNING, None)
    assert task_store.cancel(pending.task_id, "key-b", T0 + 80) is None
    assert task_store.cancel(str(uuid.uuid4()), "key-a", T0 + 80) is None
    assert task_store.claim("w2", None, T0 + 90, LEASE_S) is None


def test_list_is_newest_first_with_filters_and_pages(task_store: SqlTaskStore) -> None:
    ids = [task_store.create(make_task(submit_ms=T0 + i * 1000)).task_id for i in range(5)]
    other_model = task_store.create(make_task(submit_ms=T0 + 5000, model=OTHER_MODEL)).task_id
    task_store.create(make_task(key_id="key-b", submit_ms=T0 + 9000))
    task_store.claim("w1", [MODEL], T0 + 10_000, LEASE_S)  # takes ids[0]

    everything = task_store.list("key-a", 1, 100)
    assert everything.total == 6
    assert [t.task_id for t in everything.tasks] == [other_model, *reversed(ids)]
    pages = [task_store.list("key-a", page_no, 4) for page_no in (1, 2, 3)]
    assert [len(p.tasks) for p in pages] == [4, 2, 0]
    assert {p.total for p in pages} == {6}
    assert [t.task_id for p in pages for t in p.tasks] == [t.task_id for t in everything.tasks]

    running = task_store.list("key-a", 1, 10, status=TaskStatus.RUNNING)
    assert ([t.task_id for t in running.tasks], running.total) == ([ids[0]], 1)
    assert [t.task_id for t in task_store.list("key-a", 1, 10, model=OTHER_MODEL).tasks] == [other_model]
    window = task_store.list("key-a", 1, 10, start_ms=T0 + 1000, end_ms=T0 + 3000)
    assert [t.task_id for t in window.tasks] == [ids[3], ids[2], ids[1]]  # both ends inclusive
    with pytest.raises(ValueError, match="page_no"):
        task_store.list("key-a", 0, 10)


def test_count_pending_per_model(task_store: SqlTaskStore) -> None:
    for i in range(3):
        task_store.create(make_task(submit_ms=T0 + i))
    task_store.create(make_task(model=OTHER_MODEL, submit_ms=T0 + 10))
    task_store.claim("w1", [MODEL], T0 + 20, LEASE_S)
    assert task_store.count_pending() == 3
    assert task_store.count_pending(MODEL) == 2
    assert task_store.count_pending(OTHER_MODEL) == 1
    assert task_store.count_pending("no-such-model") == 0


# --- API keys -----------------------------------------------------------------------------------------------


def test_key_create_and_authenticate(key_store: SqlKeyStore) -> None:
    key, secret = key_store.create("alice", T0)
    assert secret.startswith("sk-")
    assert len(secret) > 40
    assert (key.name, key.prefix, key.created_ms, key.revoked_ms) == ("alice", secret[3:11], T0, None)
    assert key_store.authenticate(secret) == key
    assert key_store.authenticate(secret + "x") is None
    assert key_store.authenticate("") is None
    assert key_store.list() == [key]


def test_only_the_secret_hash_is_stored(key_store: SqlKeyStore, engine: Engine, backend: str) -> None:
    _, secret = key_store.create("alice", T0)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    with engine.connect() as conn:
        rows = " ".join(str(tuple(row)) for row in conn.execute(select(api_keys)))
    assert digest in rows
    assert secret[3:] not in rows
    if backend == "sqlite":
        database = Path(str(engine.url.database))
        on_disk = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
        assert digest.encode() in on_disk  # proves the scan sees the data
        assert secret[3:].encode() not in on_disk


def test_revoke_by_name_or_id(key_store: SqlKeyStore) -> None:
    ci_1, secret_1 = key_store.create("ci", T0)
    ci_2, secret_2 = key_store.create("ci", T0 + 1)
    other, other_secret = key_store.create("other", T0 + 2)
    assert key_store.revoke("ci", T0 + 10) == 2
    assert key_store.revoke("ci", T0 + 20) == 0  # already revoked: the first revocation time stays
    assert key_store.authenticate(secret_1) is None
    assert key_store.authenticate(secret_2) is None
    assert key_store.authenticate(other_secret) == other
    assert key_store.revoke(other.key_id, T0 + 30) == 1
    assert key_store.authenticate(other_secret) is None
    assert [(k.key_id, k.revoked_ms) for k in key_store.list()] == [
        (ci_1.key_id, T0 + 10),
        (ci_2.key_id, T0 + 10),
        (other.key_id, T0 + 30),
    ]
    assert key_store.revoke("nobody", T0 + 40) == 0


def test_tables_hold_what_the_stores_wrote(engine: Engine, task_store: SqlTaskStore) -> None:
    task = task_store.create(make_task(), idempotency_key="k", request_hash="h")
    with engine.connect() as conn:
        row = conn.execute(select(tasks).where(tasks.c.task_id == task.task_id)).mappings().one()
        assert conn.execute(select(func.count()).select_from(tasks)).scalar_one() == 1
    assert (row["model"], row["status"], row["submit_ms"], row["updated_ms"]) == (MODEL, "PENDING", T0, T0)
    assert row["request_json"] == task.request.to_dict()
    assert (row["idempotency_key"], row["request_hash"], row["usage_json"]) == ("k", "h", {})
