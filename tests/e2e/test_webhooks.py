"""Signed webhooks from the durable outbox, end to end: real `videosynth serve` processes and a loopback receiver.

The proof of the outbox: the task finishes while its receiver is down, the server is SIGKILLed before any
delivery succeeds, and after the restart the event still arrives, through a receiver that first fails and is
then restarted, every attempt carrying the same webhook-id and a signature Standard Webhooks' own library accepts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.support.net import free_port
from tests.support.server import BASE_ENV, Server, headers, submit, videosynth, wait_final
from tests.support.webhook_receiver import Delivery, webhook_receiver

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # base64 of 24 bytes, as Standard Webhooks writes them
FAST_RETRIES = {
    "VIDEOSYNTH_WEBHOOK_SECRET": SECRET,
    "VIDEOSYNTH_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "VIDEOSYNTH_WEBHOOK_RETRY_BASE_S": "0.2",
    "VIDEOSYNTH_WEBHOOK_RETRY_MAX_S": "0.5",
    "VIDEOSYNTH_WEBHOOK_POLL_S": "0.1",
    "VIDEOSYNTH_WEBHOOK_TIMEOUT_S": "1",  # also bounds the lease a killed server leaves behind
}
BODY = {"model": "wan2.7-t2v", "input": {"prompt": "a lighthouse at dusk"}, "parameters": {"duration": 2, "seed": 3}}


def _verified(delivery: Delivery) -> dict[str, Any]:
    """The event, once Standard Webhooks' own verification accepts its signature."""
    event: dict[str, Any] = Webhook(SECRET).verify(delivery.body, delivery.headers)
    return event


def _scrape_until(server: Server, line: str, timeout_s: float = 30.0) -> str:
    """/metrics once it shows ``line`` (the counter is bumped just after the receiver answered)."""
    deadline = time.monotonic() + timeout_s
    while True:
        scraped = httpx.get(f"{server.base_url}/metrics").text
        if line in scraped or time.monotonic() > deadline:
            return scraped
        time.sleep(0.1)


def test_event_survives_a_sigkill_and_a_failing_restarted_receiver(tmp_path: Path) -> None:
    hook_port = free_port()  # nothing listens yet: every attempt before the kill fails
    hook = f"http://127.0.0.1:{hook_port}/hooks/videos?token=abc"
    first = Server(tmp_path, FAST_RETRIES).start()
    key = first.create_key("hooked")
    created = submit(first.base_url, key, BODY, **{"X-Webhook-Url": hook})
    assert created.status_code == 200, created.text
    task_id = created.json()["output"]["task_id"]
    finished = wait_final(first.base_url, key, task_id)
    assert finished["output"]["task_status"] == "SUCCEEDED"
    assert first.kill(), "the embedded worker outlived the killed server"

    second = Server(tmp_path, FAST_RETRIES).start()  # same data dir: the same outbox
    try:
        with webhook_receiver(hook_port, status=503) as failing:
            refused = failing.wait_for(2)  # answered 503: retried with backoff
        with webhook_receiver(hook_port, status=200) as working:  # the receiver restarted, now healthy
            [delivered] = working.wait_for(1)
        final = httpx.get(f"{second.base_url}/api/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"})
        scraped = _scrape_until(second, 'videosynth_webhook_deliveries_total{outcome="delivered"} 1.0')
    finally:
        second.stop()

    assert 'videosynth_webhook_deliveries_total{outcome="delivered"} 1.0' in scraped
    assert 'videosynth_webhook_deliveries_total{outcome="failed"}' in scraped
    attempts = [*refused, delivered]
    assert {attempt.headers["webhook-id"] for attempt in attempts} == {f"msg_{task_id}"}
    assert all(attempt.path == "/hooks/videos?token=abc" for attempt in attempts)
    events = [_verified(attempt) for attempt in attempts]
    assert all(event == events[0] | {"data": event["data"]} for event in events)
    event = events[-1]
    assert event["type"] == "task.succeeded"
    data = event["data"]
    assert data["task_id"] == task_id and data["task_status"] == "SUCCEEDED"
    assert data["orig_prompt"] == BODY["input"]["prompt"] and data["seed"] == 3
    assert data["video_url"].startswith(second.base_url)  # a link the receiver can download
    assert data["end_time"] == final.json()["output"]["end_time"]
    tampered = dict(delivered.headers, **{"webhook-id": "msg_other"})
    try:
        Webhook(SECRET).verify(delivered.body, tampered)
    except Exception as exc:  # the signature covers the id
        assert "signature" in str(exc).lower()
    else:
        raise AssertionError("a changed webhook-id still verified")


def test_cancel_key_url_test_command_and_refusals(tmp_path: Path) -> None:
    hook_port = free_port()
    hook = f"http://127.0.0.1:{hook_port}/key-hook"
    api_only = Server(tmp_path, FAST_RETRIES, worker=False).start()
    try:
        out = videosynth(tmp_path, "keys", "create", "--name", "k", "--webhook-url", hook, env=FAST_RETRIES)
        key = out.strip().splitlines()[-1]
        bad = submit(api_only.base_url, key, BODY, **{"X-Webhook-Url": "ftp://example.com/x"})
        assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter", bad.text
        task_id = submit(api_only.base_url, key, BODY).json()["output"]["task_id"]
        with webhook_receiver(hook_port) as receiver:
            canceled = httpx.post(f"{api_only.base_url}/api/v1/tasks/{task_id}/cancel", headers=headers(key))
            assert canceled.status_code == 200, canceled.text
            [delivery] = receiver.wait_for(1)
            assert delivery.path == "/key-hook"  # the key's URL: the create named none
            event = _verified(delivery)
            assert event["type"] == "task.canceled" and event["data"]["task_status"] == "CANCELED"

            videosynth(tmp_path, "webhooks", "test", hook, env=FAST_RETRIES)
            [_, tested] = receiver.wait_for(2)
            assert _verified(tested)["type"] == "webhook.test"
    finally:
        api_only.stop()

    assert videosynth(tmp_path, "webhooks", "secret", env=FAST_RETRIES).strip() == SECRET
    # Without the operator's consent a loopback destination is refused, and never contacted.
    strict = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(tmp_path), "VIDEOSYNTH_WEBHOOK_SECRET": SECRET}
    with webhook_receiver(hook_port) as receiver:
        done = subprocess.run(
            [sys.executable, "-m", "videosynth", "webhooks", "test", hook],
            env=strict,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1 and done.stdout.startswith("refused"), done.stdout + done.stderr
        assert receiver.deliveries == []
    assert json.loads(json.dumps(event))  # the body is plain JSON
