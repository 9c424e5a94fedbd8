"""Prometheus metrics: the API's /metrics on a real uvicorn (loopback), the store figures on both databases,
and the worker's exposition port. WorkerMetrics itself: tests/unit/test_worker_metrics.py."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from tests.support.net import free_port
from tests.support.server import CREATE_PATH, headers
from tests.support.tasks import LEASE_S, T0, make_task

from videosynth import compose
from videosynth.api import metrics
from videosynth.api.app import build_app
from videosynth.settings import Settings
from videosynth.store import stats
from videosynth.store.engine import make_engine
from videosynth.store.keys import SqlKeyStore
from videosynth.store.queue import SqlTaskStore
from videosynth.worker.metrics import WorkerMetrics

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(text: str) -> Samples:
    """Every sample of an exposition, keyed by (sample name, labels)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


@dataclass
class Running:
    base_url: str
    engine: Engine
    key: str


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Running]:
    """build_app on a fresh SQLite data dir, with metrics, served by a real uvicorn on a loopback port."""
    settings = Settings(data_dir=tmp_path / "data", database_url=None)
    compose.prepare_database(settings, auto_migrate=True)
    engine = make_engine(settings.resolved_database_url())
    app = build_app(settings)
    _key, secret = SqlKeyStore(engine).create("metrics", int(time.time() * 1000))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn-metrics", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline and thread.is_alive():
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield Running(f"http://127.0.0.1:{port}", engine, secret)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        engine.dispose()


def get_metrics(base_url: str) -> Samples:
    response = httpx.get(f"{base_url}{metrics.METRICS_PATH}", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return scrape(response.text)


def create(base_url: str, key: str, model: str) -> str:
    response = httpx.post(
        f"{base_url}{CREATE_PATH}", headers=headers(key), json={"model": model, "input": {"prompt": "x"}}, timeout=10
    )
    assert response.status_code == 200, response.text
    task_id: str = response.json()["output"]["task_id"]
    return task_id


def test_requests_are_counted_by_route_template_and_code(api: Running) -> None:
    auth = {"Authorization": f"Bearer {api.key}"}
    task_id = create(api.base_url, api.key, "wan2.7-t2v")
    for _ in range(3):
        assert httpx.get(f"{api.base_url}/api/v1/tasks/{task_id}", headers=auth).status_code == 200
    assert httpx.get(f"{api.base_url}/wan/api/v1/tasks/{uuid.uuid4()}", headers=auth).status_code == 200
    assert httpx.get(f"{api.base_url}/api/v1/tasks/{task_id}").status_code == 401
    for _ in range(2):
        assert httpx.get(f"{api.base_url}/no/such/{uuid.uuid4()}").status_code == 404
    assert httpx.put(f"{api.base_url}/api/v1/tasks/{task_id}", headers=auth).status_code == 405

    samples = get_metrics(api.base_url)
    requests = "videosynth_http_requests_total"
    poll = "/api/v1/tasks/{task_id}"
    assert value(samples, requests, method="GET", route=poll, code="200") == 3
    assert value(samples, requests, method="GET", route=poll, code="401") == 1
    assert value(samples, requests, method="GET", route="/wan/api/v1/tasks/{task_id}", code="200") == 1
    assert value(samples, requests, method="POST", route=CREATE_PATH, code="200") == 1
    assert value(samples, requests, method="GET", route=metrics.UNMATCHED_ROUTE, code="404") == 2
    assert value(samples, requests, method="PUT", route=poll, code="405") == 1
    # Never the raw path: no label carries a task id.
    assert not [key for key in samples if any(task_id in v for _n, v in key[1])]
    assert value(samples, "videosynth_http_request_duration_seconds_count", method="GET", route=poll) == 4
    assert value(samples, "videosynth_http_requests_in_flight") == 1  # the scrape itself
    assert value(samples, "process_resident_memory_bytes") is not None


def test_queue_depth_tasks_by_status_and_live_workers(api: Running) -> None:
    first = create(api.base_url, api.key, "wan2.7-t2v")
    create(api.base_url, api.key, "wan2.7-t2v")
    canceled = create(api.base_url, api.key, "wan2.6-t2v")
    auth = {"Authorization": f"Bearer {api.key}"}
    assert httpx.post(f"{api.base_url}/api/v1/tasks/{canceled}/cancel", headers=auth).status_code == 200

    samples = get_metrics(api.base_url)
    assert value(samples, "videosynth_store_up") == 1
    assert value(samples, "videosynth_queue_depth", model="wan2.7-t2v") == 2
    assert value(samples, "videosynth_queue_depth", model="wan2.6-t2v") == 0
    assert value(samples, "videosynth_tasks", status="CANCELED", model="wan2.6-t2v") == 1
    assert value(samples, "videosynth_tasks", status="PENDING", model="wan2.7-t2v") == 2
    assert value(samples, "videosynth_tasks", status="SUCCEEDED", model="wan2.7-t2v") == 0
    assert value(samples, "videosynth_workers_active") == 0
    oldest = value(samples, "videosynth_queue_oldest_age_seconds", model="wan2.7-t2v")
    assert oldest is not None and 0 <= oldest < 30

    claimed = SqlTaskStore(api.engine).claim("gpu-host:4242:abc123", None, int(time.time() * 1000), LEASE_S)
    assert claimed is not None and claimed.task_id == first
    samples = get_metrics(api.base_url)
    assert value(samples, "videosynth_queue_depth", model="wan2.7-t2v") == 1
    assert value(samples, "videosynth_tasks", status="RUNNING", model="wan2.7-t2v") == 1
    assert value(samples, "videosynth_workers_active") == 1
    age = value(samples, "videosynth_worker_heartbeat_age_seconds", worker="gpu-host:4242:abc123")
    assert age is not None and 0 <= age < 30
    assert value(samples, "videosynth_leases_expired") == 0


def test_an_unreadable_store_still_answers_the_scrape(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'never-migrated.db'}")
    registry, _metrics = metrics.new_registry(lambda now_ms: stats.snapshot(engine, now_ms))
    samples = scrape(generate_latest(registry).decode())
    assert value(samples, "videosynth_store_up") == 0
    assert not [key for key in samples if key[0].startswith("videosynth_queue_depth")]
    engine.dispose()


def test_each_app_has_its_own_registry(tmp_path: Path) -> None:
    apps = [FastAPI(), FastAPI()]
    registered = [metrics.register(app) for app in apps]
    assert registered[0].registry is not registered[1].registry
    assert metrics.register(apps[0]) is registered[0]  # idempotent: no second middleware or route


def test_store_stats_on_both_databases(task_store: SqlTaskStore, engine: Engine) -> None:
    for i in range(3):
        task_store.create(make_task(model="wan2.7-t2v", submit_ms=T0 + i))
    task_store.create(make_task(model="wan2.6-t2v", submit_ms=T0 + 10))
    assert task_store.claim("w-live", ["wan2.7-t2v"], T0 + 1_000, LEASE_S) is not None
    assert task_store.claim("w-dead", ["wan2.6-t2v"], T0 + 1_000, 1.0) is not None
    second = task_store.claim("w-live", ["wan2.7-t2v"], T0 + 2_000, LEASE_S)
    assert second is not None
    assert task_store.heartbeat(second.task_id, "w-live", T0 + 3_000, LEASE_S)

    snap = stats.snapshot(engine, T0 + 5_000)
    assert snap.counts == {("PENDING", "wan2.7-t2v"): 1, ("RUNNING", "wan2.7-t2v"): 2, ("RUNNING", "wan2.6-t2v"): 1}
    assert snap.oldest_pending_ms == {"wan2.7-t2v": T0 + 2}
    assert [(w.worker_id, w.running, w.last_heartbeat_ms) for w in snap.workers] == [("w-live", 2, T0 + 3_000)]
    assert snap.workers[0].lease_expires_ms == T0 + 3_000 + 10_000
    assert snap.expired_leases == 1  # w-dead's one-second lease ran out at T0 + 2 000
    assert snap.models == ["wan2.6-t2v", "wan2.7-t2v"]


def test_route_template_without_a_route_is_unmatched() -> None:
    assert metrics.route_template({"type": "http", "path": "/x"}) == metrics.UNMATCHED_ROUTE


def test_worker_metrics_http_exposition_on_loopback() -> None:
    worker = WorkerMetrics(device="cpu")  # its own registry: two workers in one process do not collide
    other = WorkerMetrics(device="cpu")
    assert worker.registry is not other.registry
    with worker.busy():
        pass
    worker.observe_phase("upload", "demo", 0.1)
    server = worker.serve(0)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert response.status_code == 200
        samples = scrape(response.text)
        assert value(samples, "videosynth_task_phase_seconds_count", phase="upload", model="demo") == 1
        assert value(samples, "videosynth_worker_busy") == 0
    finally:
        server.close()
