"""A relay entry end to end: our videosynth forwards wan2.7-t2v to a second videosynth on loopback (the upstream,
with its own key, running the demo model), polls it and re-hosts the mp4 in our storage."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.server import Server, query, submit, wait_final
from videosynth.media.probe import probe

KEY_ENV = "VIDEOSYNTH_TEST_UPSTREAM_KEY"
SEED_PROMPT = "黄昏海边的灯塔,镜头缓慢推进,海浪轻拍礁石,海鸟叫声,电影级光影,稳定运镜"

# The upstream's demo model makes at most 81 frames at 16 fps: 5 s. Ours (a relay) has no cap of its own, so a
# longer request is accepted here and refused there.
UPSTREAM_REGISTRY = """
default = "demo"
[models.demo]
checkpoint = "demo:wan2.1"
arch = "wan2.1"
steps = 4
max_pixels = 4096
max_frames = 81
"""


def _our_registry(upstream: Server) -> str:
    return f"""
[aliases]
"wan2.7-t2v" = "cloud"
[models.cloud]
backend = "relay"
base_url = "{upstream.base_url}"
api_key_env = "{KEY_ENV}"
upstream_model = "wan2.7-t2v"
allow_private = true
poll_initial_s = 0.2
poll_max_s = 0.5
"""


def _start_upstream(root: Path, **env: str) -> tuple[Server, str]:
    root.mkdir(parents=True, exist_ok=True)
    (root / "registry.toml").write_text(UPSTREAM_REGISTRY)
    upstream = Server(root / "data", {"VIDEOSYNTH_MODEL_REGISTRY": str(root / "registry.toml"), **env}).start()
    return upstream, upstream.create_key("relay")


def _ours(root: Path, upstream: Server, upstream_key: str, **env: str) -> Server:
    root.mkdir(parents=True, exist_ok=True)
    (root / "registry.toml").write_text(_our_registry(upstream))
    return Server(
        root / "data", {"VIDEOSYNTH_MODEL_REGISTRY": str(root / "registry.toml"), KEY_ENV: upstream_key, **env}
    )


def _upstream_tasks(upstream: Server, key: str) -> list[dict[str, object]]:
    response = httpx.get(f"{upstream.base_url}/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert response.status_code == 200, response.text
    data: list[dict[str, object]] = response.json()["data"]
    return data


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, Server, str]]:
    root = tmp_path_factory.mktemp("relay")
    upstream, upstream_key = _start_upstream(root / "upstream")
    ours = _ours(root / "ours", upstream, upstream_key)
    try:
        ours.start()
        yield upstream, upstream_key, ours, ours.create_key("client")
    finally:
        ours.stop()
        upstream.stop()


def test_the_seed_flow_is_answered_through_the_relay(relay: tuple[Server, str, Server, str], tmp_path: Path) -> None:
    upstream, upstream_key, ours, key = relay
    body = {"model": "wan2.7-t2v", "input": {"prompt": SEED_PROMPT}, "parameters": {"duration": 2, "seed": 7}}
    created = submit(ours.base_url, key, body)
    assert created.status_code == 200, created.text
    task_id = created.json()["output"]["task_id"]
    output = wait_final(ours.base_url, key, task_id)["output"]
    assert output["task_status"] == "SUCCEEDED", output
    assert output["orig_prompt"] == SEED_PROMPT and output["seed"] == 7
    assert output["video_url"].startswith(f"{ours.base_url}/files/{task_id}.mp4?")  # ours, not the upstream's
    response = httpx.get(output["video_url"], timeout=30)
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    (tmp_path / "v.mp4").write_bytes(response.content)
    info = probe(tmp_path / "v.mp4")
    assert (info.width, info.height, info.codec) == (1280, 720, "h264")
    upstream_tasks = [t for t in _upstream_tasks(upstream, upstream_key) if t["status"] == "SUCCEEDED"]
    assert upstream_tasks, "the upstream made no video"
    # What the upstream reported is what our task shows: its usage block, its seed, its actual prompt if any.
    theirs = query(upstream.base_url, upstream_key, str(upstream_tasks[0]["task_id"]))
    mine = query(ours.base_url, key, task_id)
    assert mine["usage"] == theirs["usage"], (mine, theirs)
    assert mine["output"]["seed"] == theirs["output"]["seed"] == 7
    assert mine["output"].get("actual_prompt") == theirs["output"].get("actual_prompt")


def test_an_upstream_refusal_fails_our_task_with_its_code(relay: tuple[Server, str, Server, str]) -> None:
    _upstream, _upstream_key, ours, key = relay
    body = {"model": "wan2.7-t2v", "input": {"prompt": "too long"}, "parameters": {"duration": 10}}
    created = submit(ours.base_url, key, body)
    assert created.status_code == 200, created.text  # we have no cap: the upstream has
    output = wait_final(ours.base_url, key, created.json()["output"]["task_id"])["output"]
    assert output["task_status"] == "FAILED"
    assert output["code"] == "InvalidParameter", output
    assert "duration" in output["message"]


def test_a_relay_worker_killed_after_submit_resumes_the_same_upstream_task(tmp_path: Path) -> None:
    slow = {"VIDEOSYNTH_MODEL_STEPS": "40"}  # the upstream takes long enough to be caught mid-task
    upstream, upstream_key = _start_upstream(tmp_path / "upstream", **slow)
    quick_leases = {"VIDEOSYNTH_LEASE_S": "3", "VIDEOSYNTH_HEARTBEAT_S": "0.5"}
    first = _ours(tmp_path / "ours", upstream, upstream_key, **quick_leases)
    second = None
    try:
        first.start()
        key = first.create_key("client")
        body = {"model": "wan2.7-t2v", "input": {"prompt": "storm"}, "parameters": {"duration": 2, "seed": 3}}
        task_id = submit(first.base_url, key, body).json()["output"]["task_id"]
        deadline = time.monotonic() + 120
        while not _upstream_tasks(upstream, upstream_key):
            assert time.monotonic() < deadline, "the relay never submitted"
            time.sleep(0.05)
        time.sleep(0.5)  # the upstream id is saved right after the submit's answer
        assert query(first.base_url, key, task_id)["output"]["task_status"] == "RUNNING"
        assert _upstream_tasks(upstream, upstream_key)[0]["status"] != "SUCCEEDED", "too fast to catch"
        assert first.kill(), "the embedded relay worker outlived the killed server"

        second = _ours(tmp_path / "ours", upstream, upstream_key, **quick_leases).start()
        output = wait_final(second.base_url, key, task_id, timeout_s=240)["output"]
        assert output["task_status"] == "SUCCEEDED", output
        tasks = _upstream_tasks(upstream, upstream_key)
        assert len(tasks) == 1, tasks  # resumed, never submitted twice
        assert tasks[0]["status"] == "SUCCEEDED"
        logs = "".join(p.read_text() for p in (tmp_path / "ours" / "data").glob("server-*.log"))
        assert '"event": "relay resumed"' in logs  # the saved upstream id, not the Idempotency-Key, did it
    finally:
        if second is not None:
            second.stop()
        first.stop()
        upstream.stop()


def _direct(upstream: Server, key: str, prompt: str) -> str:
    """A task submitted to the upstream by another client of the same key (it takes the upstream's worker)."""
    body = {"model": "wan2.7-t2v", "input": {"prompt": prompt}, "parameters": {"duration": 2}}
    created = submit(upstream.base_url, key, body)
    assert created.status_code == 200, created.text
    return str(created.json()["output"]["task_id"])


def _wait_upstream(upstream: Server, key: str, count: int, status: str | None = None) -> list[dict[str, object]]:
    """The upstream's tasks once it has ``count`` of them (the newest with ``status``, when given)."""
    deadline = time.monotonic() + 120
    while True:
        tasks = _upstream_tasks(upstream, key)
        if len(tasks) >= count and (status is None or tasks[0]["status"] == status):
            return tasks
        assert time.monotonic() < deadline, f"the upstream never had {count} tasks ({status}): {tasks}"
        time.sleep(0.05)


def _wait_status(server: Server, key: str, task_id: str, status: str) -> None:
    deadline = time.monotonic() + 120
    while query(server.base_url, key, task_id)["output"]["task_status"] != status:
        assert time.monotonic() < deadline, f"task {task_id} never {status}"
        time.sleep(0.05)


def _cancel(server: Server, key: str, task_id: str) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/api/v1/tasks/{task_id}/cancel", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


def _logs(root: Path) -> str:
    return "".join(p.read_text() for p in root.glob("server-*.log"))


def test_an_upstream_quota_is_retried_through_and_counted(tmp_path: Path) -> None:
    # The upstream key may have one task queued or running: ours is refused (429) while another client's runs.
    upstream, upstream_key = _start_upstream(tmp_path / "upstream", VIDEOSYNTH_KEY_MAX_QUEUED="1")
    metrics_port = free_port()
    ours = _ours(tmp_path / "ours", upstream, upstream_key, VIDEOSYNTH_WORKER_METRICS_PORT=str(metrics_port))
    try:
        ours.start()
        key = ours.create_key("client")
        _direct(upstream, upstream_key, "the other client's task")
        body = {"model": "wan2.7-t2v", "input": {"prompt": "harbour"}, "parameters": {"duration": 2, "seed": 5}}
        task_id = submit(ours.base_url, key, body).json()["output"]["task_id"]
        output = wait_final(ours.base_url, key, task_id, timeout_s=240)["output"]
        assert output["task_status"] == "SUCCEEDED", output
        assert len(_upstream_tasks(upstream, upstream_key)) == 2  # the refused submits made no task
        assert '"fault": "HTTP 429"' in _logs(tmp_path / "ours" / "data")
        scrape = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        labels = f'outcome="throttled",upstream="{upstream.base_url}"'
        assert f"videosynth_relay_upstream_requests_total{{{labels}}}" in scrape, scrape
        assert "videosynth_relay_upstream_request_seconds_bucket" in scrape
        assert f'videosynth_relay_upstream_in_flight{{upstream="{upstream.base_url}"}} 0.0' in scrape
    finally:
        ours.stop()
        upstream.stop()


def test_an_upstream_restart_mid_task_is_polled_through(tmp_path: Path) -> None:
    # A SIGTERM gives the upstream's task back at once (no drain), so the restarted upstream runs it again.
    slow = {"VIDEOSYNTH_MODEL_STEPS": "40", "VIDEOSYNTH_DRAIN_GRACE_S": "0.1"}
    upstream, upstream_key = _start_upstream(tmp_path / "upstream", **slow)
    ours = _ours(tmp_path / "ours", upstream, upstream_key)
    try:
        ours.start()
        key = ours.create_key("client")
        body = {"model": "wan2.7-t2v", "input": {"prompt": "tide"}, "parameters": {"duration": 2, "seed": 9}}
        task_id = submit(ours.base_url, key, body).json()["output"]["task_id"]
        _wait_upstream(upstream, upstream_key, 1, "RUNNING")
        upstream.stop()  # same port, same data dir: our polls meet a refused connection meanwhile
        time.sleep(1.0)
        upstream.start()
        output = wait_final(ours.base_url, key, task_id, timeout_s=300)["output"]
        assert output["task_status"] == "SUCCEEDED", output
        tasks = _upstream_tasks(upstream, upstream_key)
        assert [t["status"] for t in tasks] == ["SUCCEEDED"]  # the one upstream task, finished after its restart
        assert '"fault": "ConnectError"' in _logs(tmp_path / "ours" / "data")
    finally:
        ours.stop()
        upstream.stop()


def test_cancel_is_local_before_the_submit_and_forwarded_after(tmp_path: Path) -> None:
    slow = {"VIDEOSYNTH_MODEL_STEPS": "40"}
    upstream, upstream_key = _start_upstream(tmp_path / "upstream", **slow)
    ours = _ours(tmp_path / "ours", upstream, upstream_key)
    try:
        ours.start()
        key = ours.create_key("client")
        body = {"model": "wan2.7-t2v", "input": {"prompt": "dunes"}, "parameters": {"duration": 2}}
        _direct(upstream, upstream_key, "the other client's task")  # the upstream's one worker is busy with it
        queued = submit(ours.base_url, key, body).json()["output"]["task_id"]
        _wait_upstream(upstream, upstream_key, 2, "PENDING")  # ours, submitted, waits upstream
        _wait_status(ours, key, queued, "RUNNING")
        # Our worker (one) is busy relaying that task: this one stays PENDING here, never submitted.
        local = submit(ours.base_url, key, body).json()["output"]["task_id"]
        assert _cancel(ours, key, local).status_code == 200
        assert query(ours.base_url, key, local)["output"]["task_status"] == "CANCELED"

        # Submitted and PENDING upstream: the cancel goes there, the upstream cancels, and so does our task.
        assert _cancel(ours, key, queued).status_code == 200
        output = wait_final(ours.base_url, key, queued)["output"]
        assert output["task_status"] == "CANCELED", output
        assert _upstream_tasks(upstream, upstream_key)[0]["status"] == "CANCELED"

        # RUNNING upstream: the upstream refuses (DashScope cancels only PENDING tasks), and we say so.
        running = submit(ours.base_url, key, body).json()["output"]["task_id"]
        _wait_upstream(upstream, upstream_key, 3, "RUNNING")
        refused = _cancel(ours, key, running)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "UnsupportedOperation"
        assert "upstream refused the cancel" in refused.json()["message"]
        assert wait_final(ours.base_url, key, running, timeout_s=240)["output"]["task_status"] == "SUCCEEDED"
        assert len(_upstream_tasks(upstream, upstream_key)) == 3  # the locally canceled one never went there
    finally:
        ours.stop()
        upstream.stop()
