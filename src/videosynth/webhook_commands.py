"""The webhooks' composition for the CLI: the deliverer `serve` runs, `webhooks test` and `webhooks secret`.

Here because it joins two sides that may not know each other: the deliverer (webhooks/) and the DashScope
rendering of a task (api/), the event's data being exactly what a poll shows.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry

from videosynth import compose
from videosynth.api.dashscope import render_task
from videosynth.domain.task import TaskStatus
from videosynth.settings import Settings
from videosynth.store.connect import open_stores
from videosynth.store.outbox import SqlOutbox
from videosynth.webhooks.deliverer import Deliverer, DeliveryPolicy
from videosynth.webhooks.events import TEST_EVENT_TYPE, event_body
from videosynth.webhooks.metrics import DeliveryMetrics
from videosynth.webhooks.send import Attempt, Destination, send_event


def start_deliverer(settings: Settings, own_base_url: str, registry: CollectorRegistry | None) -> Deliverer:
    """The deliverer of a `serve` process, started. ``own_base_url`` makes result links when no public base URL
    is configured; ``registry`` (the app's) gets the delivery counter."""
    tasks, _keys, engine = open_stores(settings.resolved_database_url())
    blobs = compose.blob_store(settings)
    zone = ZoneInfo(settings.time_zone)

    def render(task_id: str) -> Mapping[str, Any] | None:
        task = tasks.get(task_id)
        if task is None:
            return None
        url = None
        if task.status is TaskStatus.SUCCEEDED and task.result_key is not None:
            url = blobs.url(task.result_key, settings.public_base_url or own_base_url, settings.url_ttl_s)
        output: Mapping[str, Any] = render_task(task, url, zone)["output"]
        return output

    metrics = None if registry is None else DeliveryMetrics(registry)
    deliverer = Deliverer(SqlOutbox(engine), render, DeliveryPolicy.from_settings(settings), metrics)
    deliverer.start(settings.webhook_poll_s)
    return deliverer


def send_test_event(settings: Settings, url: str) -> Attempt:
    """One signed ``webhook.test`` event to ``url``, under the same rules as real deliveries."""
    now_ms = int(time.time() * 1000)
    body = event_body(TEST_EVENT_TYPE, now_ms, {"message": "videosynth webhook test"})
    destination = Destination(url, settings.webhook_timeout_s, settings.webhook_allow_private)
    event_id = f"msg_test_{uuid.uuid4().hex}"
    return send_event(destination, event_id, body, settings.webhook_signing_secret(), datetime.now(UTC))
