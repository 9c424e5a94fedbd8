"""The OpenAI dialect's routes in process: its error shape on every route, what delete removes and refuses, and
the content of each variant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from videosynth import compose
from videosynth.api.app import build_app
from videosynth.settings import Settings
from videosynth.storage.keys import Variant, blob_key
from videosynth.store.queue import SqlTaskStore

VIDEOS = "/v1/videos"


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str], Settings]]:
    settings = Settings(data_dir=Path(tmp_path_factory.mktemp("openai-routes")))
    compose.prepare_database(settings, auto_migrate=True)
    _, keys = compose.stores(settings)
    _, secret = keys.create("openai", 0)
    with TestClient(build_app(settings), raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {secret}"}, settings


def create(client: TestClient, auth: dict[str, str], **fields: str) -> str:
    parts = {name: (None, value) for name, value in {"prompt": "x", **fields}.items()}
    response = client.post(VIDEOS, headers=auth, files=parts)  # multipart/form-data, as the openai SDK sends
    assert response.status_code == 200, response.text
    video_id: str = response.json()["id"]
    return video_id


def error_of(response: object) -> dict[str, object]:
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}
    error: dict[str, object] = body["error"]
    return error


def test_every_route_answers_errors_in_the_openai_shape(setup: tuple[TestClient, dict[str, str], Settings]) -> None:
    client, auth, _ = setup
    bad_key = {"Authorization": "Bearer sk-wrong"}
    for method, path in [
        ("POST", VIDEOS),
        ("GET", VIDEOS),
        ("GET", f"{VIDEOS}/some-id"),
        ("DELETE", f"{VIDEOS}/some-id"),
        ("GET", f"{VIDEOS}/some-id/content"),
        ("POST", f"{VIDEOS}/some-id/remix"),
    ]:
        response = client.request(method, path, headers=bad_key, json={"prompt": "x"})
        assert response.status_code == 401 and error_of(response)["code"] == "invalid_api_key", (method, path)
    assert client.get(f"{VIDEOS}/some-id", headers=auth).status_code == 404
    assert error_of(client.get(f"{VIDEOS}/some-id", headers=auth))["code"] == "not_found"
    wrong_method = client.put(f"{VIDEOS}/some-id", headers=auth)
    assert wrong_method.status_code == 405 and error_of(wrong_method)["code"] == "MethodNotAllowed"
    too_many = client.get(VIDEOS, headers=auth, params={"limit": 0})
    assert too_many.status_code == 400 and error_of(too_many)["param"] == "limit"
    text = client.post(VIDEOS, headers={**auth, "Content-Type": "text/plain"}, content=b"prompt=x")
    assert text.status_code == 400 and "multipart/form-data" in str(error_of(text)["message"])


def test_urlencoded_and_json_creates(setup: tuple[TestClient, dict[str, str], Settings]) -> None:
    client, auth, _ = setup
    form = client.post(VIDEOS, headers=auth, data={"prompt": "x", "seconds": "6", "size": "1920x1080"})
    assert form.status_code == 200 and (form.json()["seconds"], form.json()["size"]) == ("6", "1920x1080")
    assert form.json()["status"] == "queued" and form.json()["model"] == "wan2.7-t2v"
    custom = client.post(VIDEOS, headers=auth, data={"prompt": "x", "size": "1024x576"})  # not in the table
    assert custom.status_code == 200 and custom.json()["size"] == "1024x576"
    bad = client.post(VIDEOS, headers=auth, json={"prompt": "x", "seconds": 4.5})
    assert bad.status_code == 400 and error_of(bad)["param"] == "seconds"
    no_boundary = client.post(VIDEOS, headers={**auth, "Content-Type": "multipart/form-data"}, content=b"prompt")
    assert no_boundary.status_code == 400 and "boundary" in str(error_of(no_boundary)["message"])
    unset = client.post(VIDEOS, headers=auth, json={"seconds": "3"})
    assert unset.status_code == 400 and error_of(unset)["param"] == "prompt"


def test_content_of_a_video_not_completed_and_a_bad_variant(setup: tuple[TestClient, dict[str, str], Settings]) -> None:
    client, auth, _ = setup
    video_id = create(client, auth)
    queued = client.get(f"{VIDEOS}/{video_id}/content", headers=auth)
    assert queued.status_code == 404 and "PENDING" in str(error_of(queued)["message"])
    bad = client.get(f"{VIDEOS}/{video_id}/content", headers=auth, params={"variant": "poster"})
    assert bad.status_code == 400 and error_of(bad)["param"] == "variant"


def finish(settings: Settings, video_id: str) -> SqlTaskStore:
    tasks, _ = compose.stores(settings)
    while (claimed := tasks.claim("w1", None, 1, 30)) is not None and claimed.task_id != video_id:
        tasks.finish_failure(claimed.task_id, "w1", 2, "InternalError", "not this one")
    assert claimed is not None
    return tasks


def test_delete_refuses_a_running_video_then_removes_every_file(
    setup: tuple[TestClient, dict[str, str], Settings],
) -> None:
    client, auth, settings = setup
    video_id = create(client, auth, seconds="2")
    tasks = finish(settings, video_id)
    running = client.delete(f"{VIDEOS}/{video_id}", headers=auth)
    assert running.status_code == 409 and error_of(running)["code"] == "conflict"

    blobs = compose.blob_store(settings)
    for variant in (Variant.VIDEO, Variant.THUMBNAIL):
        source = settings.data_dir / f"upload-{variant.value}"
        source.write_bytes(variant.value.encode())
        blobs.put_file(blob_key(video_id, variant), source, "application/octet-stream")
    assert tasks.finish_success(video_id, "w1", 3, blob_key(video_id), {})
    assert client.get(f"{VIDEOS}/{video_id}/content", headers=auth).content == b"video"
    thumbnail = client.get(f"{VIDEOS}/{video_id}/content", headers=auth, params={"variant": "thumbnail"})
    assert thumbnail.content == b"thumbnail" and thumbnail.headers["content-type"] == "image/jpeg"
    missing = client.get(f"{VIDEOS}/{video_id}/content", headers=auth, params={"variant": "spritesheet"})
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"

    deleted = client.delete(f"{VIDEOS}/{video_id}", headers=auth)
    assert deleted.json() == {"id": video_id, "object": "video.deleted", "deleted": True}
    assert not any(blobs.exists(blob_key(video_id, variant)) for variant in Variant)
    assert tasks.get(video_id) is None
    assert client.delete(f"{VIDEOS}/{video_id}", headers=auth).status_code == 404


def test_a_canceled_task_reads_failed_with_a_canceled_error(setup: tuple[TestClient, dict[str, str], Settings]) -> None:
    client, auth, _ = setup
    video_id = create(client, auth)
    assert client.post(f"/api/v1/tasks/{video_id}/cancel", headers=auth).status_code == 200
    video = client.get(f"{VIDEOS}/{video_id}", headers=auth)
    assert "openai-poll-after-ms" not in video.headers  # final: nothing to poll for
    body = video.json()
    assert body["status"] == "failed" and body["error"]["code"] == "canceled"
    assert "canceled" in body["error"]["message"] and body["completed_at"] is not None


def test_an_idempotency_key_names_one_video(setup: tuple[TestClient, dict[str, str], Settings]) -> None:
    client, auth, _ = setup
    headers = {**auth, "Idempotency-Key": "openai-once"}
    first = client.post(VIDEOS, headers=headers, json={"prompt": "once", "seconds": "3"})
    again = client.post(VIDEOS, headers=headers, json={"prompt": "once", "seconds": "3"})
    assert first.status_code == again.status_code == 200 and first.json()["id"] == again.json()["id"]
    reused = client.post(VIDEOS, headers=headers, json={"prompt": "another", "seconds": "3"})
    assert reused.status_code == 400 and "Idempotency-Key" in str(error_of(reused)["message"])
