"""The deliverer: a thread of `videosynth serve` that sends the outbox's due events, one lease at a time.

Each round claims a few due events (the lease covers sending all of them), sends each, and settles it: delivered,
retried later with backoff, or given up (a refused destination, or an event older than webhook_max_age_s). A
process killed mid-round leaves its events leased; they are claimed again when the lease expires and sent with the
same webhook-id, so a receiver sees every event at least once and can drop duplicates by id.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from videosynth.settings import Settings
from videosynth.store.outbox import OutboxEvent, SqlOutbox
from videosynth.webhooks.backoff import retry_delay_s
from videosynth.webhooks.events import RenderOutput, event_body, task_data
from videosynth.webhooks.metrics import DeliveryMetrics
from videosynth.webhooks.send import Attempt, Destination, Outcome, send_event

log = logging.getLogger(__name__)

_BATCH = 4  # the lease covers sending a whole batch: small, so a dead owner holds events briefly
_LEASE_MARGIN_S = 5.0
_PURGE_LIMIT = 500  # settled events deleted per idle round: bounded, so a backlog never stalls deliveries
Clock = Callable[[], float]


@dataclass(frozen=True)
class DeliveryPolicy:
    secret: str
    timeout_s: float
    allow_private: bool
    max_age_s: float
    retry_base_s: float
    retry_max_s: float
    keep_settled_s: float  # delivered and dead events stay this long for inspection, then are deleted

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            secret=settings.webhook_signing_secret(),
            timeout_s=settings.webhook_timeout_s,
            allow_private=settings.webhook_allow_private,
            max_age_s=settings.webhook_max_age_s,
            retry_base_s=settings.webhook_retry_base_s,
            retry_max_s=settings.webhook_retry_max_s,
            keep_settled_s=settings.retention_s,
        )


class Deliverer:
    def __init__(
        self,
        outbox: SqlOutbox,
        render: RenderOutput,
        policy: DeliveryPolicy,
        metrics: DeliveryMetrics | None = None,
        clock: Clock = time.time,
    ) -> None:
        self._outbox = outbox
        self._render = render
        self._policy = policy
        self._metrics = metrics
        self._clock = clock
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def deliver_due(self) -> int:
        """One round: send the events due now (at most a batch); how many were tried."""
        lease_ms = round((_BATCH * self._policy.timeout_s + _LEASE_MARGIN_S) * 1000)
        events = self._outbox.claim(self._owner, self._now_ms(), lease_ms, _BATCH)
        for event in events:
            self._deliver(event)
        return len(events)

    def start(self, poll_s: float) -> None:
        self._thread = threading.Thread(target=self._run, args=(poll_s,), name="webhook-deliverer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self, poll_s: float) -> None:
        # Bounded by the stop event; a full batch goes straight on to the next, an empty one waits poll_s.
        while not self._stop.is_set():
            try:
                tried = self.deliver_due()
            except Exception:  # a database blip must not end deliveries for the process's lifetime
                log.exception("webhook delivery round failed")
                tried = 0
            if tried < _BATCH:
                self._purge_settled()
                self._stop.wait(poll_s)

    def _purge_settled(self) -> None:
        before_ms = self._now_ms() - round(self._policy.keep_settled_s * 1000)
        try:
            self._outbox.purge_settled(before_ms, _PURGE_LIMIT)
        except Exception:  # housekeeping: the next idle round tries again
            log.exception("webhook outbox purge failed")

    def _deliver(self, event: OutboxEvent) -> None:
        now_ms = self._now_ms()
        if now_ms - event.created_ms > self._policy.max_age_s * 1000:
            self._settle(event, Attempt(Outcome.FAILED, "retried for webhook_max_age_s; given up"), expired=True)
            return
        body = event_body(event.event_type, event.created_ms, task_data(self._render, event.task_id))
        destination = Destination(event.url, self._policy.timeout_s, self._policy.allow_private)
        now = datetime.fromtimestamp(now_ms / 1000, tz=UTC)
        self._settle(event, send_event(destination, event.event_id, body, self._policy.secret, now))

    def _settle(self, event: OutboxEvent, attempt: Attempt, expired: bool = False) -> None:
        now_ms = self._now_ms()
        if attempt.outcome is Outcome.DELIVERED:
            self._outbox.delivered(event.event_id, self._owner, now_ms)
        elif expired or attempt.outcome is Outcome.REFUSED:
            self._outbox.give_up(event.event_id, self._owner, now_ms, attempt.detail)
        else:
            delay_s = retry_delay_s(event.attempts, self._policy.retry_base_s, self._policy.retry_max_s)
            self._outbox.retry_at(event.event_id, self._owner, now_ms + round(delay_s * 1000), attempt.detail)
        outcome = "expired" if expired else attempt.outcome.value
        if self._metrics is not None:
            self._metrics.count(outcome)
        log.info("webhook %s", outcome, extra={"event_id": event.event_id, "detail": attempt.detail})

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)
