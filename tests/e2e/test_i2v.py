"""Image-to-video end to end: the dashscope SDK's img_url as a URL, a local file (its upload flow) and base64, the
curl-style wan2.7 media request, and every bad input, against a real server whose worker serves a tiny
Wan2.2-TI2V (text- and image-to-video) checkpoint."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis

from tests.support.audio import write_tone
from tests.support.images import data_uri, write_bomb_png, write_picture
from tests.support.server import Server, headers, submit, wait_final
from videosynth.media.probe import probe
from videosynth.storage.uploads import parse_upload_name

REGISTRY = """default = "demo-i2v"
[models.demo-i2v]
checkpoint = "demo:wan2.2-ti2v"
fps = 16
steps = 2
max_pixels = 4096
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A static web host on loopback, as any a client's picture could live on."""
    root = Path(tmp_path_factory.mktemp("pictures"))
    write_picture(root / "wide.jpg", 320, 160)
    write_picture(root / "tall.png", 90, 160)
    write_picture(root / "big.bmp", 400, 400)  # 480 KB: over the server's 200 KB limit
    write_bomb_png(root / "bomb.png", 6_000, 6_000)
    (root / "notes.png").write_text("not an image\n" * 20)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def i2v_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = Path(tmp_path_factory.mktemp("i2v"))
    (data / "registry.toml").write_text(REGISTRY)
    env = {
        "VIDEOSYNTH_MODEL_REGISTRY": str(data / "registry.toml"),
        "VIDEOSYNTH_IMAGE_ALLOW_PRIVATE": "true",  # the pictures are on loopback
        "VIDEOSYNTH_IMAGE_MAX_BYTES": "200000",
        "VIDEOSYNTH_IMAGE_MAX_PIXELS": "20000000",
    }
    server = Server(data, env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(i2v_server: Server) -> str:
    return i2v_server.create_key("i2v")


@pytest.fixture
def sdk(i2v_server: Server, monkeypatch: pytest.MonkeyPatch) -> Server:
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{i2v_server.base_url}/api/v1")
    return i2v_server


def _sdk_video(key: str, tmp_path: Path, **call: Any) -> tuple[Any, tuple[int, int]]:
    created = VideoSynthesis.async_call(api_key=key, seed=5, **({"duration": 2} | call))
    assert created.status_code == HTTPStatus.OK, (created.code, created.message)
    done = VideoSynthesis.wait(created, api_key=key)
    assert done.output.task_status == "SUCCEEDED", done
    target = tmp_path / "v.mp4"
    target.write_bytes(httpx.get(done.output.video_url).content)
    info = probe(target)
    return done, (info.width, info.height)


def test_sdk_img_url_as_a_url_follows_the_image_aspect(sdk: Server, key: str, files: str, tmp_path: Path) -> None:
    done, size = _sdk_video(key, tmp_path, model="wan2.6-i2v", img_url=f"{files}/wide.jpg", resolution="720P")
    # 2:1 at 720P's 921,600 pixels on the model's 32-pixel grid
    assert size == (1344, 672)
    assert done.usage["size"] == "1344*672" and done.usage["SR"] == 720


def test_sdk_img_url_as_a_local_file_is_uploaded(sdk: Server, key: str, tmp_path: Path) -> None:
    local = write_picture(tmp_path / "portrait.png", 90, 160)
    done, size = _sdk_video(
        key, tmp_path, model="wan2.5-i2v-preview", img_url=str(local), resolution="480P", duration=5
    )
    assert size == (448, 832)  # 9:16 at 480P: 399,360 pixels at most
    assert done.usage["video_ratio"] == "448*832"


def test_sdk_img_url_as_base64(sdk: Server, key: str, tmp_path: Path) -> None:
    _done, size = _sdk_video(
        key, tmp_path, model="wanx2.1-i2v-turbo", img_url=data_uri(64, 64), resolution="480P", duration=3
    )
    assert size == (608, 608)


def test_sdk_media_with_local_files_uploads_them_all(sdk: Server, key: str, tmp_path: Path) -> None:
    frame = write_picture(tmp_path / "first.png", 160, 160)
    sound = write_tone(tmp_path / "voice.mp3", "mp3", seconds=3.0)
    media = [{"type": "first_frame", "url": str(frame)}, {"type": "driving_audio", "url": str(sound)}]
    _done, size = _sdk_video(key, tmp_path, model="wan2.7-i2v", media=media, resolution="720P")
    assert size == (960, 960)
    assert probe(tmp_path / "v.mp4").has_audio


def test_sdk_kf2v_goes_to_the_image2video_path(sdk: Server, key: str, files: str, tmp_path: Path) -> None:
    call = {"model": "wan2.2-kf2v-flash", "first_frame_url": f"{files}/wide.jpg", "resolution": "480P", "duration": 5}
    _done, size = _sdk_video(key, tmp_path, **call)
    assert size == (864, 416)  # 2:1 at 480P


def test_curl_wan27_media_request(i2v_server: Server, key: str, files: str, tmp_path: Path) -> None:
    body = {
        "model": "wan2.7-i2v",
        "input": {"prompt": "the cat turns its head", "media": [{"type": "first_frame", "url": f"{files}/tall.png"}]},
        "parameters": {"resolution": "720P", "duration": 2},
    }
    created = submit(i2v_server.base_url, key, body)
    assert created.status_code == 200, created.text
    output = wait_final(i2v_server.base_url, key, created.json()["output"]["task_id"])
    assert output["output"]["task_status"] == "SUCCEEDED", output
    assert output["usage"]["ratio"] == "9:16"


def test_a_last_frame_this_checkpoint_cannot_take_fails_the_task(i2v_server: Server, key: str, files: str) -> None:
    media = [{"type": "first_frame", "url": f"{files}/tall.png"}, {"type": "last_frame", "url": f"{files}/tall.png"}]
    body = {"model": "wan2.7-i2v", "input": {"media": media}, "parameters": {"duration": 2}}
    output = _final(i2v_server, key, body)
    assert output["code"] == "InvalidParameter" and "takes no last frame" in output["message"]


def _final(server: Server, key: str, body: dict[str, Any]) -> dict[str, Any]:
    created = submit(server.base_url, key, body)
    assert created.status_code == 200, created.text
    output: dict[str, Any] = wait_final(server.base_url, key, created.json()["output"]["task_id"])["output"]
    assert output["task_status"] == "FAILED", output
    return output


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("missing.png", "BadRequest.InputDownloadFailed"),
        ("notes.png", "BadRequest.UnsupportedFileFormat"),
        ("bomb.png", "InvalidParameter"),
        ("big.bmp", "BadRequest.InputDownloadFailed"),
    ],
)
def test_bad_images_fail_the_task_with_their_code(
    i2v_server: Server, key: str, files: str, name: str, code: str
) -> None:
    body = {"model": "wan2.6-i2v", "input": {"img_url": f"{files}/{name}"}, "parameters": {"duration": 2}}
    output = _final(i2v_server, key, body)
    assert output["code"] == code and output["message"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"model": "wan2.6-t2v", "input": {"prompt": "x", "img_url": "https://a/b.png"}}, "text-to-video model"),
        ({"model": "wan2.6-i2v", "input": {"img_url": "file:///etc/passwd"}}, "must be an http(s) URL"),
        ({"model": "wan2.6-i2v", "input": {"img_url": "data:image/png,raw"}}, "data:image/<type>;base64"),
        ({"model": "wan2.6-i2v", "input": {"prompt": "no image"}}, "input.img_url is required"),
    ],
)
def test_what_create_can_tell_is_a_400(i2v_server: Server, key: str, body: dict[str, Any], words: str) -> None:
    response = submit(i2v_server.base_url, key, body)
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"
    assert words in response.json()["message"]


def test_an_upload_serves_only_the_key_that_made_it(i2v_server: Server, key: str, tmp_path: Path) -> None:
    base = f"{i2v_server.base_url}/api/v1"
    policy = httpx.get(f"{base}/uploads", params={"action": "getPolicy", "model": "wan2.6-i2v"}, headers=headers(key))
    assert policy.status_code == 200, policy.text
    data = policy.json()["data"]
    form = {"policy": data["policy"], "Signature": data["signature"], "key": f"{data['upload_dir']}/cat.png"}
    picture = write_picture(tmp_path / "cat.png", 32, 32).read_bytes()
    stored = httpx.post(data["upload_host"], data=form, files={"file": ("cat.png", picture)})
    assert stored.status_code == 200, stored.text
    again = httpx.post(data["upload_host"], data=form, files={"file": ("cat.png", picture)})
    assert again.status_code == 409  # x-oss-forbid-overwrite
    # Recorded with its expiry, for the retention sweep (its blob key is a hash no listing would find).
    name = parse_upload_name(form["key"])
    assert name is not None
    with sqlite3.connect(i2v_server.data_dir / "videosynth.db") as db:
        rows = db.execute("SELECT expires_ms FROM uploads WHERE blob_key = ?", (name.blob_key,)).fetchall()
    assert rows == [(name.expires_s * 1000,)]
    forged = httpx.post(data["upload_host"], data={**form, "Signature": "0" * 64}, files={"file": ("x", picture)})
    assert forged.status_code == 403 and forged.json()["code"] == "AccessDenied"

    body = {"model": "wan2.6-i2v", "input": {"img_url": f"oss://{form['key']}"}}
    other = submit(i2v_server.base_url, i2v_server.create_key("other"), body)
    assert other.status_code == 400 and "oss://" in other.json()["message"]
    mine = submit(i2v_server.base_url, key, body, **{"X-DashScope-OssResourceResolve": "enable"})
    assert mine.status_code == 200, mine.text
