"""The relay's Prometheus metrics, in the worker's registry: upstream requests by outcome, their latency, and the
upstream tasks this worker has in flight (sum over workers: all of them, per upstream)."""

from __future__ import annotations

from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

Outcome = Literal["ok", "throttled", "5xx", "4xx", "network"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "throttled", "5xx", "4xx", "network")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class RelayMetrics:
    """Labelled by ``upstream``: the entry's base URL (never its key)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self._requests = Counter(
            "videosynth_relay_upstream_requests",
            "Upstream HTTP requests by outcome: ok, throttled (429), 5xx, 4xx, network (no answer).",
            ["upstream", "outcome"],
            registry=registry,
        )
        self._latency = Histogram(
            "videosynth_relay_upstream_request_seconds",
            "Time an upstream request took, answered or not.",
            ["upstream"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._in_flight = Gauge(
            "videosynth_relay_upstream_in_flight",
            "Upstream tasks this worker submitted (or resumed) that have not ended yet.",
            ["upstream"],
            registry=registry,
        )

    def request(self, upstream: str, outcome: Outcome, seconds: float) -> None:
        self._requests.labels(upstream=upstream, outcome=outcome).inc()
        self._latency.labels(upstream=upstream).observe(max(seconds, 0.0))

    def in_flight(self, upstream: str, delta: int) -> None:
        self._in_flight.labels(upstream=upstream).inc(delta)
