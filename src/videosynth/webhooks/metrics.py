"""Prometheus counter of webhook delivery attempts by outcome (delivered, failed, refused, expired)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

OUTCOMES = ("delivered", "failed", "refused", "expired")


class DeliveryMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._attempts = Counter(
            "videosynth_webhook_deliveries",
            "Webhook delivery attempts by outcome (expired: given up after webhook_max_age_s).",
            ["outcome"],
            registry=registry,
        )
        for outcome in OUTCOMES:
            self._attempts.labels(outcome)  # every series exists from the start, at 0

    def count(self, outcome: str) -> None:
        self._attempts.labels(outcome).inc()
