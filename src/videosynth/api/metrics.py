"""Prometheus metrics of an API node: GET /metrics in the text exposition format.

Every app gets its own CollectorRegistry (never prometheus_client's global one), so tests can build several apps
in one process. Two sources:

- ``ApiMetrics`` counts requests by method, route *template* and status code and times them (reported by the
  request context middleware in api/context.py, the one pure-ASGI layer every request passes).
  The label is the template the router matched (``/api/v1/tasks/{task_id}``), never the raw path, and
  ``<unmatched>`` for paths no route knows, so label cardinality is bounded by the route table.
- ``StoreCollector`` reads the task table at scrape time: queue depth and oldest wait per model, tasks by
  status, and the workers holding live leases with the age of their last heartbeat. Every replica reports the
  same store-wide figures; aggregate those with ``max``, not ``sum``.

/metrics needs no API key. It reveals model names, queue sizes and worker host names: do not expose it
publicly; let Prometheus reach it on a private network, or block the path at the load balancer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import Scope

from videosynth.domain.task import TaskStatus

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "<unmatched>"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Request latencies: a poll is a millisecond, a create a few, anything past a second is an incident.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_STORE_STATUSES = [status.value for status in TaskStatus if status is not TaskStatus.UNKNOWN]


class ApiMetrics:
    """The request metrics of one app, in that app's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "videosynth_http_requests",
            "HTTP requests by method, route template and status code.",
            ["method", "route", "code"],
            registry=registry,
        )
        self.latency = Histogram(
            "videosynth_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body, by method and route template.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        in_flight = Gauge("videosynth_http_requests_in_flight", "Requests being handled now.", registry=registry)
        # A plain count read at scrape time: two locked gauge updates per request cost more than the rest here.
        self._in_flight = 0
        in_flight.set_function(lambda: self._in_flight)
        # labels() takes a lock and builds a tuple; the label sets are few, so keep their children.
        self._counted: dict[tuple[str, str, str], Any] = {}
        self._timed: dict[tuple[str, str], Any] = {}

    # The request context middleware (api/context.py) calls these two for every HTTP request.
    def request_started(self) -> None:
        self._in_flight += 1

    def request_finished(self, scope: Scope, code: int, seconds: float) -> None:
        self._in_flight -= 1
        method = scope.get("method", "GET")
        self.observe(method if method in _METHODS else "OTHER", route_template(scope), code, seconds)

    def observe(self, method: str, route: str, code: int, seconds: float) -> None:
        counted = self._counted.get((method, route, str(code)))
        if counted is None:
            counted = self._counted.setdefault(
                (method, route, str(code)), self.requests.labels(method=method, route=route, code=str(code))
            )
        timed = self._timed.get((method, route))
        if timed is None:
            timed = self._timed.setdefault((method, route), self.latency.labels(method=method, route=route))
        counted.inc()
        timed.observe(seconds)


def route_template(scope: Scope) -> str:
    """The template of the route that handled ``scope``, with the prefix it was included under (and without the
    root_path the app is served under).

    Starlette leaves the matched route in ``scope["route"]``. FastAPI may hand over the route of an included
    router, whose path lacks the include prefix (``/tasks/{task_id}`` under ``/api/v1``); the prefix is then
    the part of the path before the shortest tail the route's own pattern matches."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED_ROUTE
    regex = getattr(route, "path_regex", None)
    path = _route_path(scope)
    if regex is None or regex.match(path):
        return template
    start = path.find("/", 1)
    while start != -1:
        if regex.match(path[start:]):  # not match(path, start): '^' anchors at the string's real start
            return path[:start] + template
        start = path.find("/", start + 1)
    return template


def _route_path(scope: Scope) -> str:
    """The path the router matched: the request's, less the root_path the app is served under."""
    path, root_path = scope.get("path", ""), scope.get("root_path", "")
    if not isinstance(path, str):
        return ""
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


class WorkerFigures(Protocol):
    """A worker seen through the leases it holds (store/stats.py)."""

    @property
    def worker_id(self) -> str: ...

    @property
    def last_heartbeat_ms(self) -> int: ...


class QueueFigures(Protocol):
    """The task table's figures at one moment (store/stats.py)."""

    @property
    def models(self) -> Sequence[str]: ...

    def count(self, status: str, model: str) -> int: ...

    @property
    def oldest_pending_ms(self) -> Mapping[str, int]: ...

    @property
    def workers(self) -> Sequence[WorkerFigures]: ...

    @property
    def expired_leases(self) -> int: ...


# The store's figures at a time in epoch ms: a read of the task table, in the scrape's own thread.
ReadQueueFigures = Callable[[int], QueueFigures]


class StoreCollector(Collector):
    """Queue, task and worker figures read from the task table at scrape time.

    A failing database does not fail the scrape: ``videosynth_store_up`` reads 0 and the store figures are
    left out, so the request metrics still arrive."""

    def __init__(self, read_figures: ReadQueueFigures) -> None:
        self._read_figures = read_figures

    def describe(self) -> Iterable[Metric]:
        return []  # families depend on the data; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        started = time.perf_counter()
        now_ms = time.time_ns() // 1_000_000
        up = GaugeMetricFamily("videosynth_store_up", "1 when the last scrape could read the task store.")
        took = GaugeMetricFamily("videosynth_store_scrape_seconds", "Time the store queries of this scrape took.")
        try:
            snap = self._read_figures(now_ms)
        except Exception as exc:  # report, never raise: the rest of the scrape must still arrive
            log.warning("metrics: task store unreadable", extra={"error": type(exc).__name__})
            up.add_metric([], 0)
            took.add_metric([], time.perf_counter() - started)
            return [up, took]
        up.add_metric([], 1)
        took.add_metric([], time.perf_counter() - started)
        return [up, took, *_store_families(snap, now_ms)]


def _store_families(snap: QueueFigures, now_ms: int) -> list[Metric]:
    depth = GaugeMetricFamily("videosynth_queue_depth", "PENDING tasks, by model.", labels=["model"])
    oldest = GaugeMetricFamily(
        "videosynth_queue_oldest_age_seconds",
        "How long the oldest PENDING task of each model has waited (0 when none waits).",
        labels=["model"],
    )
    by_status = GaugeMetricFamily(
        "videosynth_tasks",
        "Tasks the store holds (within retention), by status and model.",
        labels=["status", "model"],
    )
    for model in snap.models:
        depth.add_metric([model], snap.count(TaskStatus.PENDING, model))
        submitted = snap.oldest_pending_ms.get(model)
        oldest.add_metric([model], 0.0 if submitted is None else max(now_ms - submitted, 0) / 1000)
        for status in _STORE_STATUSES:
            by_status.add_metric([status, model], snap.count(status, model))
    active = GaugeMetricFamily(
        "videosynth_workers_active", "Workers holding an unexpired lease (an idle worker holds none)."
    )
    active.add_metric([], len(snap.workers))
    age = GaugeMetricFamily(
        "videosynth_worker_heartbeat_age_seconds",
        "Seconds since each lease-holding worker's last heartbeat or claim (the store's clock vs this node's).",
        labels=["worker"],
    )
    for worker in snap.workers:
        age.add_metric([worker.worker_id], max(now_ms - worker.last_heartbeat_ms, 0) / 1000)
    expired = GaugeMetricFamily(
        "videosynth_leases_expired",
        "RUNNING tasks whose lease ran out (their worker stopped heartbeating); a worker will requeue them.",
    )
    expired.add_metric([], snap.expired_leases)
    return [depth, oldest, by_status, active, age, expired]


def new_registry(read_figures: ReadQueueFigures | None) -> tuple[CollectorRegistry, ApiMetrics]:
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    if read_figures is not None:
        registry.register(StoreCollector(read_figures))
    return registry, ApiMetrics(registry)


def register(app: FastAPI, read_figures: ReadQueueFigures | None = None) -> ApiMetrics:
    """Give ``app`` its own registry, the request metrics and ``GET /metrics``. Call it once, while building
    the app (before it serves): a second call returns the first call's metrics and changes nothing."""
    existing = getattr(app.state, "metrics", None)
    if isinstance(existing, ApiMetrics):
        return existing
    registry, metrics = new_registry(read_figures)
    app.state.metrics = metrics  # the request context middleware reports every request to it

    # Sync on purpose: the store queries run in the threadpool, never on the event loop.
    def scrape() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(METRICS_PATH, scrape, methods=["GET"], include_in_schema=False, name="metrics")
    return metrics
