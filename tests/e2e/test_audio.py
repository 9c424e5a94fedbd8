"""input.audio_url end to end: muxed as AAC to the video's length; bad inputs fail the task with the right code."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.support.audio import write_tone
from tests.support.server import Server, submit, wait_final
from videosynth.media.probe import probe


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A plain static file server on loopback, like any web host a client's audio could live on."""
    root = Path(tmp_path_factory.mktemp("static"))
    write_tone(root / "tone.mp3", "mp3", seconds=3.0)
    write_tone(root / "long.wav", "wav", seconds=8.0)
    (root / "picture.mp3").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 2000)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def audio_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = Server(Path(tmp_path_factory.mktemp("audio")), {"VIDEOSYNTH_AUDIO_ALLOW_PRIVATE": "true"}).start()
    yield server
    server.stop()


def _run(server: Server, key: str, audio_url: str, duration: int = 2) -> dict[str, object]:
    body = {
        "model": "wan2.6-t2v",
        "input": {"prompt": "waves", "audio_url": audio_url},
        "parameters": {"size": "1280*720", "duration": duration},
    }
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    output: dict[str, object] = wait_final(server.base_url, key, task_id)["output"]
    return output


@pytest.mark.parametrize(("name", "duration"), [("tone.mp3", 5), ("long.wav", 2)])
def test_audio_is_padded_or_cut_to_the_video(
    audio_server: Server, files: str, tmp_path: Path, name: str, duration: int
) -> None:
    key = audio_server.create_key()
    output = _run(audio_server, key, f"{files}/{name}", duration)
    assert output["task_status"] == "SUCCEEDED", output
    target = tmp_path / "v.mp4"
    target.write_bytes(httpx.get(str(output["video_url"])).content)
    info = probe(target)
    assert info.has_audio and info.audio_codec == "aac"
    assert info.audio_duration is not None and abs(info.audio_duration - duration) < 0.05
    assert info.frames == duration * 16


@pytest.mark.parametrize(
    ("name", "code"),
    [("missing.mp3", "BadRequest.InputDownloadFailed"), ("picture.mp3", "BadRequest.UnsupportedFileFormat")],
)
def test_bad_audio_fails_the_task_with_its_code(audio_server: Server, files: str, name: str, code: str) -> None:
    key = audio_server.create_key()
    output = _run(audio_server, key, f"{files}/{name}")
    assert output["task_status"] == "FAILED"
    assert output["code"] == code and output["message"]


def test_private_addresses_are_refused_by_default(server: Server, key: str, files: str) -> None:
    output = _run(server, key, f"{files}/tone.mp3")
    assert output["task_status"] == "FAILED" and output["code"] == "BadRequest.InputDownloadFailed"
