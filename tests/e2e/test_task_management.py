"""Cancel, list, long prompts and Idempotency-Key on an API-only server (tasks stay PENDING)."""

from __future__ import annotations

import time

import httpx

from tests.support.server import Server, query, submit


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_cancel_pending_then_not_again(api_only: Server) -> None:
    key, other = api_only.create_key("canceller"), api_only.create_key("bystander")
    task_id = submit(api_only.base_url, key, {"model": "wan2.7-t2v", "input": {"prompt": "x"}}).json()["output"][
        "task_id"
    ]
    # The SDK's cancel: POST with no body, no Content-Type, no async header.
    stranger = httpx.post(f"{api_only.base_url}/api/v1/tasks/{task_id}/cancel", headers=_auth(other))
    assert stranger.status_code == 400 and stranger.json()["code"] == "UnsupportedOperation"
    response = httpx.post(f"{api_only.base_url}/api/v1/tasks/{task_id}/cancel", headers=_auth(key))
    assert response.status_code == 200 and set(response.json()) == {"request_id"}
    output = query(api_only.base_url, key, task_id)["output"]
    assert output["task_status"] == "CANCELED" and output["end_time"]
    again = httpx.post(f"{api_only.base_url}/wan/api/v1/tasks/{task_id}/cancel", headers=_auth(key))
    assert again.status_code == 400 and again.json()["code"] == "UnsupportedOperation"
    unknown = httpx.post(f"{api_only.base_url}/api/v1/tasks/nope/cancel", headers=_auth(key))
    assert unknown.status_code == 400 and unknown.json()["code"] == "UnsupportedOperation"
    apiyi = httpx.get(f"{api_only.base_url}/v1/tasks/{task_id}", headers=_auth(key)).json()
    assert apiyi["status"] == "failed" and apiyi["error"]["code"] == "Canceled"


def test_list_is_per_key_paged_and_filtered(api_only: Server) -> None:
    key, other = api_only.create_key("lister"), api_only.create_key("lister-other")
    ids = [
        submit(api_only.base_url, key, {"model": m, "input": {"prompt": f"p{i}"}}).json()["output"]["task_id"]
        for i, m in enumerate(["wan2.7-t2v", "wan2.7-t2v", "wan2.6-t2v"])
    ]
    submit(api_only.base_url, other, {"model": "wan2.7-t2v", "input": {"prompt": "not yours"}})
    httpx.post(f"{api_only.base_url}/api/v1/tasks/{ids[0]}/cancel", headers=_auth(key))

    page = httpx.get(f"{api_only.base_url}/api/v1/tasks?page_no=1&page_size=2", headers=_auth(key)).json()
    assert page["total"] == 3 and page["total_page"] == 2 and page["page_size"] == 2 and page["page_no"] == 1
    assert [t["task_id"] for t in page["data"]] == [ids[2], ids[1]]  # newest first
    second = httpx.get(f"{api_only.base_url}/api/v1/tasks?page_no=2&page_size=2", headers=_auth(key)).json()
    assert [t["task_id"] for t in second["data"]] == [ids[0]]
    canceled = httpx.get(f"{api_only.base_url}/api/v1/tasks?status=CANCELED", headers=_auth(key)).json()
    assert [t["task_id"] for t in canceled["data"]] == [ids[0]]
    legacy = httpx.get(f"{api_only.base_url}/api/v1/tasks?model_name=wan2.6-t2v", headers=_auth(key)).json()
    assert [t["model_name"] for t in legacy["data"]] == ["wan2.6-t2v"]
    future = time.strftime("%Y%m%d%H%M%S", time.gmtime(time.time() + 3600))
    later = httpx.get(f"{api_only.base_url}/api/v1/tasks?start_time={future}", headers=_auth(key)).json()
    assert later["total"] == 0
    epoch_ms = str(int(time.time() * 1000) - 600_000)
    recent = httpx.get(f"{api_only.base_url}/api/v1/tasks?start_time={epoch_ms}", headers=_auth(key)).json()
    assert recent["total"] == 3
    bad = httpx.get(f"{api_only.base_url}/api/v1/tasks?status=DONE", headers=_auth(key))
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidParameter"
    bad_page = httpx.get(f"{api_only.base_url}/api/v1/tasks?page_size=abc", headers=_auth(key))
    assert bad_page.status_code == 400 and bad_page.json()["code"] == "InvalidParameter"


def test_long_prompts_are_cut_as_upstream_does(api_only: Server) -> None:
    key = api_only.create_key()
    prompt = "长" * 6000
    body = {"model": "wan2.7-t2v", "input": {"prompt": prompt, "negative_prompt": "n" * 900}}
    task_id = submit(api_only.base_url, key, body).json()["output"]["task_id"]
    assert query(api_only.base_url, key, task_id)["output"]["orig_prompt"] == "长" * 5000


def test_idempotency_key_returns_the_same_task(api_only: Server) -> None:
    key = api_only.create_key()
    body = {"model": "wan2.7-t2v", "input": {"prompt": "once"}}
    first = submit(api_only.base_url, key, body, **{"Idempotency-Key": "aisdk_vid_0123456789abcdef"})
    again = submit(api_only.base_url, key, body, **{"Idempotency-Key": "aisdk_vid_0123456789abcdef"})
    assert first.json()["output"]["task_id"] == again.json()["output"]["task_id"]
    changed = submit(
        api_only.base_url,
        key,
        {**body, "input": {"prompt": "twice"}},
        **{"Idempotency-Key": "aisdk_vid_0123456789abcdef"},
    )
    assert changed.status_code == 400 and "Idempotency-Key" in changed.json()["message"]
    other = submit(api_only.base_url, api_only.create_key(), body, **{"Idempotency-Key": "aisdk_vid_0123456789abcdef"})
    assert other.json()["output"]["task_id"] != first.json()["output"]["task_id"]


def test_readyz_reports_database_storage_and_extension(api_only: Server) -> None:
    response = httpx.get(f"{api_only.base_url}/readyz")
    assert response.status_code == 200
    report = response.json()
    assert report["ready"] is True and report["database"]["ok"] and report["storage"]["ok"]
    assert report["prompt_extension"] == "prompt extension off"
    assert report["provenance"]["signed"] is False and "VIDEOSYNTH_C2PA_CERT" in report["provenance"]["reason"]
