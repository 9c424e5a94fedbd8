"""The webhook outbox on real databases (SQLite file, PostgreSQL): every terminal state change writes its event in
the same transaction, and deliverers lease events so no two send one at the same time."""

from __future__ import annotations

from sqlalchemy import Engine, select
from tests.support.tasks import LEASE_S, T0, make_task
from tests.support.threads import run_together

from videosynth.store.engine import make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.outbox import DEAD, DELIVERED, PENDING, SqlOutbox
from videosynth.store.protocols import NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.store.schema import webhook_outbox

KEY_HOOK = "http://127.0.0.1:9/key-hook"
TASK_HOOK = "http://127.0.0.1:9/task-hook"
LEASE_MS = 60_000


def _events(engine: Engine) -> dict[str, tuple[str, str, str]]:
    """event_id → (task_id, event_type, url)."""
    query = select(
        webhook_outbox.c.event_id, webhook_outbox.c.task_id, webhook_outbox.c.event_type, webhook_outbox.c.url
    )
    with engine.connect() as conn:
        return {row.event_id: (row.task_id, row.event_type, row.url) for row in conn.execute(query)}


def _new(task_store: SqlTaskStore, key_id: str, webhook_url: str | None = None, submit_ms: int = T0) -> str:
    task = make_task(key_id=key_id, submit_ms=submit_ms)
    [created] = task_store.create_many([NewTask(task, webhook_url=webhook_url)])
    assert not isinstance(created, Exception)
    return task.task_id


def _running(task_store: SqlTaskStore, worker: str, now_ms: int = T0) -> str:
    task = task_store.claim(worker, None, now_ms, LEASE_S)
    assert task is not None
    return task.task_id


def test_every_terminal_path_writes_its_event(engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore) -> None:
    hooked, _ = key_store.create("hooked", T0, webhook_url=KEY_HOOK)
    plain, _ = key_store.create("plain", T0)
    succeeded = _new(task_store, hooked.key_id, submit_ms=T0)
    failed = _new(task_store, hooked.key_id, TASK_HOOK, submit_ms=T0 + 1)  # its own URL beats the key's
    abandoned = _new(task_store, hooked.key_id, submit_ms=T0 + 2)
    canceled = _new(task_store, hooked.key_id, submit_ms=T0 + 3)
    assert _events(engine) == {}  # creating writes none

    # One key, FIFO: the workers take the first three in submit order.
    owners = {_running(task_store, worker): worker for worker in ("w1", "w2", "w3")}
    assert list(owners) == [succeeded, failed, abandoned]
    assert task_store.finish_success(succeeded, owners[succeeded], T0 + 10, "r.mp4", {"duration": 5})
    assert task_store.finish_failure(failed, owners[failed], T0 + 10, "InternalError", "boom")
    assert task_store.cancel(canceled, hooked.key_id, T0 + 10) is not None
    # The third worker went silent: after its lease, with no attempts left, the store gives the task up.
    assert task_store.requeue_expired(T0 + round(LEASE_S * 1000) + 1, max_attempts=1) == 1
    silent = _new(task_store, plain.key_id, submit_ms=T0 + 4)  # no URL anywhere: no event
    assert _running(task_store, "w4", T0 + 20) == silent
    assert task_store.finish_failure(silent, "w4", T0 + 30, "InternalError", "boom")

    assert _events(engine) == {
        f"msg_{succeeded}": (succeeded, "task.succeeded", KEY_HOOK),
        f"msg_{failed}": (failed, "task.failed", TASK_HOOK),
        f"msg_{abandoned}": (abandoned, "task.failed", KEY_HOOK),
        f"msg_{canceled}": (canceled, "task.canceled", KEY_HOOK),
    }


def test_a_lost_race_writes_no_event(engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore) -> None:
    key, _ = key_store.create("hooked", T0, webhook_url=KEY_HOOK)
    task_id = _new(task_store, key.key_id)
    _running(task_store, "w1")
    assert not task_store.finish_success(task_id, "someone-else", T0 + 1, "r.mp4", {})  # not its lease
    assert task_store.cancel(task_id, key.key_id, T0 + 1) is not None  # RUNNING: the cancel does not win
    assert _events(engine) == {}


def _pending_events(task_store: SqlTaskStore, key_store: SqlKeyStore, count: int) -> set[str]:
    key, _ = key_store.create("hooked", T0, webhook_url=KEY_HOOK)
    ids = [_new(task_store, key.key_id, submit_ms=T0 + index) for index in range(count)]
    for task_id in ids:
        task_store.cancel(task_id, key.key_id, T0 + 100)
    return {f"msg_{task_id}" for task_id in ids}


def test_concurrent_deliverers_never_share_an_event(
    db_url: str, task_store: SqlTaskStore, key_store: SqlKeyStore
) -> None:
    expected = _pending_events(task_store, key_store, 24)
    engines = [make_engine(db_url) for _ in range(4)]
    try:
        outboxes = [SqlOutbox(engine) for engine in engines]

        def drain(index: int) -> list[str]:
            taken: list[str] = []
            for _ in range(20):  # bounded: 24 events, at most 3 a claim
                claimed = outboxes[index].claim(f"d{index}", T0 + 1_000, LEASE_MS, 3)
                if not claimed:
                    break
                taken.extend(event.event_id for event in claimed)
            return taken

        taken = run_together(4, drain)
    finally:
        for engine in engines:
            engine.dispose()
    everything = [event_id for batch in taken for event_id in batch]
    assert sorted(everything) == sorted(expected)  # each event claimed by exactly one deliverer


def test_leases_retries_and_outcomes(engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore) -> None:
    [event_id] = _pending_events(task_store, key_store, 1)
    outbox = SqlOutbox(engine)
    now = T0 + 1_000
    [first] = outbox.claim("a", now, LEASE_MS, 8)
    assert (first.event_id, first.attempts, first.url, first.event_type) == (event_id, 1, KEY_HOOK, "task.canceled")
    assert outbox.claim("b", now + 1, LEASE_MS, 8) == []  # leased to a
    # a died mid-send: once its lease is over, b takes the event, and a's late outcome is not written.
    [again] = outbox.claim("b", now + LEASE_MS + 1, LEASE_MS, 8)
    assert (again.event_id, again.attempts) == (event_id, 2)
    assert not outbox.delivered(event_id, "a", now + LEASE_MS + 2)

    assert outbox.retry_at(event_id, "b", now + 2 * LEASE_MS, "HTTP 503")
    assert outbox.state_of(event_id) == PENDING
    assert outbox.claim("c", now + 2 * LEASE_MS - 1, LEASE_MS, 8) == []  # not due yet
    [third] = outbox.claim("c", now + 2 * LEASE_MS, LEASE_MS, 8)
    assert third.attempts == 3
    assert outbox.delivered(event_id, "c", now + 2 * LEASE_MS + 5)
    assert outbox.state_of(event_id) == DELIVERED
    assert outbox.claim("d", now + 10 * LEASE_MS, LEASE_MS, 8) == []  # delivered: never sent again


def test_a_given_up_event_is_dead(engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore) -> None:
    [event_id] = _pending_events(task_store, key_store, 1)
    outbox = SqlOutbox(engine)
    outbox.claim("a", T0 + 1_000, LEASE_MS, 8)
    assert outbox.give_up(event_id, "a", T0 + 1_001, "refused")
    assert outbox.state_of(event_id) == DEAD
    assert outbox.claim("a", T0 + 10 * LEASE_MS, LEASE_MS, 8) == []
    assert outbox.state_of("msg_nothing") is None


def test_settled_events_are_purged_after_their_time(
    engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore
) -> None:
    events = sorted(_pending_events(task_store, key_store, 3))
    outbox = SqlOutbox(engine)
    outbox.claim("a", T0 + 1_000, LEASE_MS, 8)
    assert outbox.delivered(events[0], "a", T0 + 2_000)
    assert outbox.give_up(events[1], "a", T0 + 3_000, "refused")
    assert outbox.purge_settled(T0 + 2_000, 10) == 0  # none settled before then
    assert outbox.purge_settled(T0 + 10_000, 10) == 2
    assert [outbox.state_of(event_id) for event_id in events] == [None, None, PENDING]  # a pending one stays
