"""The official openai SDK's `client.videos`, pointed at videosynth, works as it does against OpenAI."""

from __future__ import annotations

import io

import httpx
import openai
import pytest
from openai import OpenAI
from PIL import Image

from tests.support.server import CREATE_PATH, Server

pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


def client_for(server: Server, key: str) -> OpenAI:
    # What a user does: OpenAI(base_url="https://<host>/v1", api_key=...)
    return OpenAI(base_url=f"{server.base_url}/v1", api_key=key, max_retries=0)


@pytest.fixture
def client(server: Server, key: str) -> OpenAI:
    return client_for(server, key)


def test_create_and_poll_then_download(client: OpenAI) -> None:
    video = client.videos.create_and_poll(
        prompt="a lighthouse at dusk", model="sora-2", seconds="2", size="720x1280", poll_interval_ms=200
    )
    assert video.status == "completed", video
    assert video.object == "video" and video.model == "wan2.7-t2v"  # sora-2 maps to the configured default
    assert video.seconds == "2" and video.size == "720x1280" and video.progress == 100
    assert video.error is None and video.remixed_from_video_id is None
    assert video.completed_at is not None and video.expires_at is not None
    assert video.expires_at > video.created_at

    retrieved = client.videos.retrieve(video.id)
    assert retrieved.id == video.id and retrieved.status == "completed"

    content = client.videos.download_content(video.id)
    data = content.read()
    assert content.response.headers["content-type"] == "video/mp4"
    assert data[4:8] == b"ftyp"
    thumbnail = client.videos.download_content(video.id, variant="thumbnail")
    sheet = client.videos.download_content(video.id, variant="spritesheet")
    for image, width in ((thumbnail, 720), (sheet, 5 * 256)):  # the middle frame; a row of five 256 px frames
        assert image.response.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(image.read()))
        assert picture.format == "JPEG" and picture.width == width

    remix = client.videos.remix(video.id, prompt="the same lighthouse at dawn")
    assert remix.remixed_from_video_id == video.id and remix.status in ("queued", "in_progress")
    assert remix.seconds == "2" and remix.size == "720x1280" and remix.prompt == "the same lighthouse at dawn"
    done = client.videos.poll(remix.id, poll_interval_ms=200)
    assert done.status == "completed" and done.remixed_from_video_id == video.id

    deleted = client.videos.delete(remix.id)
    assert deleted.deleted and deleted.id == remix.id and deleted.object == "video.deleted"
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(remix.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.download_content(remix.id)


def test_retrieve_asks_for_a_poll_pace(api_only: Server, api_only_key: str) -> None:
    client = client_for(api_only, api_only_key)
    created = client.videos.create(prompt="a fox", seconds="4", size="1280x720")
    assert created.status == "queued" and created.seconds == "4"
    raw = client.videos.with_raw_response.retrieve(created.id)
    assert raw.headers["openai-poll-after-ms"] == "1000"
    # Deleting a queued video cancels it first: it never starts, and it is gone.
    client.videos.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.videos.retrieve(created.id)


def test_list_pages_with_a_cursor(api_only: Server) -> None:
    client = client_for(api_only, api_only.create_key("openai-list"))
    ids = [client.videos.create(prompt=f"clip {i}", seconds="2").id for i in range(5)]
    first = client.videos.list(limit=2)
    assert [v.id for v in first.data] == ids[::-1][:2] and first.has_more
    assert [v.id for v in client.videos.list(limit=2)] == ids[::-1]  # auto-pagination follows `after`
    assert [v.id for v in client.videos.list(limit=3, order="asc")] == ids
    last = client.videos.list(limit=2, order="asc", after=ids[3])
    assert [v.id for v in last.data] == ids[4:] and not last.has_more


def test_errors_are_the_sdk_exception_classes(server: Server, client: OpenAI, other_key: str) -> None:
    with pytest.raises(openai.AuthenticationError):
        client_for(server, "sk-nope").videos.create(prompt="x")
    with pytest.raises(openai.BadRequestError) as bad_size:
        client.videos.create(prompt="x", size="1001x1000")  # type: ignore[arg-type]  # an odd side
    assert bad_size.value.param == "size" and "1280x720" in bad_size.value.message  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as bad_seconds:
        client.videos.create(prompt="x", seconds="99")  # type: ignore[arg-type]
    assert bad_seconds.value.param == "seconds"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as image:
        client.videos.create(prompt="x", input_reference=("ref.png", b"\x89PNG", "image/png"))
    assert image.value.param == "input_reference"  # type: ignore[attr-defined]
    with pytest.raises(openai.BadRequestError) as empty:
        client.videos.create(prompt="")
    assert empty.value.param == "prompt"  # type: ignore[attr-defined]

    mine = client.videos.create(prompt="mine", seconds="2")
    stranger = client_for(server, other_key)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.download_content(mine.id)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        stranger.videos.remix(mine.id, prompt="theirs")
    assert mine.id not in {v.id for v in stranger.videos.list()}


def test_extension_fields_and_json_bodies(server: Server, key: str, client: OpenAI) -> None:
    video = client.videos.create_and_poll(
        prompt="a cat",
        seconds="2",
        size="1280x720",
        extra_body={"seed": "7", "watermark": "true"},
        poll_interval_ms=200,
    )
    assert video.status == "completed"
    assert client.videos.with_raw_response.retrieve(video.id).http_response.json()["seed"] == 7
    # A JSON client (not the SDK) is served too, with native types.
    created = httpx.post(
        f"{server.base_url}/v1/videos",
        headers={"Authorization": f"Bearer {key}"},
        json={"prompt": "a dog", "model": "wan2.7-t2v", "seconds": 3, "size": "1280x720", "seed": 9},
    )
    assert created.status_code == 200, created.text
    assert created.json()["seconds"] == "3" and created.json()["seed"] == 9


def test_a_task_is_one_task_in_both_dialects(server: Server, key: str, client: OpenAI) -> None:
    headers = {"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"}
    body = {"model": "wan2.7-t2v", "input": {"prompt": "a boat"}, "parameters": {"duration": 2, "ratio": "1:1"}}
    created = httpx.post(f"{server.base_url}{CREATE_PATH}", headers=headers, json=body).json()
    task_id = created["output"]["task_id"]
    video = client.videos.poll(task_id, poll_interval_ms=200)
    assert video.id == task_id and video.status == "completed" and video.size == "960x960"
    assert client.videos.download_content(task_id).read()[4:8] == b"ftyp"
    assert task_id in {v.id for v in client.videos.list(limit=100)}

    made_here = client.videos.create_and_poll(prompt="a kite", seconds="2", poll_interval_ms=200)
    queried = httpx.get(f"{server.base_url}/api/v1/tasks/{made_here.id}", headers=headers).json()
    assert queried["output"]["task_status"] == "SUCCEEDED"
    assert httpx.get(queried["output"]["video_url"]).content[4:8] == b"ftyp"
