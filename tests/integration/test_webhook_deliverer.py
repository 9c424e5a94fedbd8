"""The deliverer over a real outbox and a loopback receiver, its clock driven by the test (no waiting)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook
from tests.support.net import free_port
from tests.support.tasks import T0, make_task
from tests.support.webhook_receiver import webhook_receiver

from videosynth.store.keys import SqlKeyStore
from videosynth.store.outbox import DEAD, DELIVERED, PENDING, SqlOutbox
from videosynth.store.protocols import NewTask
from videosynth.store.queue import SqlTaskStore
from videosynth.webhooks.deliverer import Deliverer, DeliveryPolicy
from videosynth.webhooks.metrics import DeliveryMetrics

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Clock:
    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def _policy(allow_private: bool = True) -> DeliveryPolicy:
    return DeliveryPolicy(
        secret=SECRET,
        timeout_s=2.0,
        allow_private=allow_private,
        max_age_s=600.0,
        retry_base_s=10.0,
        retry_max_s=60.0,
        keep_settled_s=3600.0,
    )


def _render(task_id: str) -> Mapping[str, Any] | None:
    return {"task_id": task_id, "task_status": "CANCELED"}


def _canceled_with_hook(task_store: SqlTaskStore, key_store: SqlKeyStore, url: str, now_s: float) -> str:
    """An event of a task canceled at ``now_s``: the test's own start, not the module's import, since receivers
    check webhook-timestamp against their own clock (5 minutes' tolerance) and a full suite runs longer."""
    key, _ = key_store.create("hooked", T0)
    task = make_task(key_id=key.key_id)
    task_store.create_many([NewTask(task, webhook_url=url)])
    task_store.cancel(task.task_id, key.key_id, int(now_s * 1000))
    return f"msg_{task.task_id}"


def _counts(registry: CollectorRegistry) -> dict[str, float]:
    found = {}
    for outcome in ("delivered", "failed", "refused", "expired"):
        found[outcome] = registry.get_sample_value("videosynth_webhook_deliveries_total", {"outcome": outcome}) or 0
    return found


def test_retries_with_backoff_until_the_receiver_answers(
    engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore
) -> None:
    now_s = time.time()
    port = free_port()
    event_id = _canceled_with_hook(task_store, key_store, f"http://127.0.0.1:{port}/h", now_s)
    outbox, clock, registry = SqlOutbox(engine), Clock(now_s), CollectorRegistry()
    deliverer = Deliverer(outbox, _render, _policy(), DeliveryMetrics(registry), clock)
    assert deliverer.deliver_due() == 1  # nobody listens: failed, retried in 5-10 s
    assert outbox.state_of(event_id) == PENDING
    assert deliverer.deliver_due() == 0  # not due yet
    clock.now_s += 10
    with webhook_receiver(port, status=500) as failing:
        assert deliverer.deliver_due() == 1
        [refused] = failing.deliveries
    assert deliverer.deliver_due() == 0  # the second failure waits 10-20 s
    clock.now_s += 20
    with webhook_receiver(port) as receiver:
        assert deliverer.deliver_due() == 1
        [delivery] = receiver.deliveries
    assert outbox.state_of(event_id) == DELIVERED
    assert refused.headers["webhook-id"] == delivery.headers["webhook-id"] == event_id
    event = Webhook(SECRET).verify(delivery.body, delivery.headers)
    assert event["type"] == "task.canceled" and event["data"] == {"task_id": event_id[4:], "task_status": "CANCELED"}
    assert _counts(registry) == {"delivered": 1, "failed": 2, "refused": 0, "expired": 0}


def test_private_destinations_are_refused_unless_allowed(
    engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore
) -> None:
    now_s = time.time()
    port = free_port()
    event_id = _canceled_with_hook(task_store, key_store, f"http://127.0.0.1:{port}/h", now_s)
    registry = CollectorRegistry()
    deliverer = Deliverer(SqlOutbox(engine), _render, _policy(allow_private=False), DeliveryMetrics(registry))
    with webhook_receiver(port) as receiver:
        assert deliverer.deliver_due() == 1
        assert receiver.deliveries == []  # never contacted
    assert SqlOutbox(engine).state_of(event_id) == DEAD  # a refusal is not retried
    assert _counts(registry)["refused"] == 1


def test_an_event_older_than_max_age_is_dropped(
    engine: Engine, task_store: SqlTaskStore, key_store: SqlKeyStore
) -> None:
    now_s = time.time()
    event_id = _canceled_with_hook(task_store, key_store, f"http://127.0.0.1:{free_port()}/h", now_s)
    registry = CollectorRegistry()
    late = Clock(now_s + 601)
    deliverer = Deliverer(SqlOutbox(engine), _render, _policy(), DeliveryMetrics(registry), late)
    assert deliverer.deliver_due() == 1
    assert SqlOutbox(engine).state_of(event_id) == DEAD
    assert _counts(registry)["expired"] == 1
