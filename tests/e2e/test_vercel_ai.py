"""The Vercel AI SDK's Alibaba provider (`ai` + `@ai-sdk/alibaba`, pinned in tests/js/package-lock.json) against a
real server: `experimental_generateVideo`, and the start/status pair, run by the machine's Node.js.

What the provider sends (read from its source, node_modules/@ai-sdk/alibaba/dist/index.js): POST
{videoBaseURL}/api/v1/services/aigc/video-generation/video-synthesis with `X-DashScope-Async: enable` and an
`idempotency-key` header (the `ai` core adds one), then GET {videoBaseURL}/api/v1/tasks/{id} until SUCCEEDED.
wan2.7 models get `resolution` (the tier of the size asked, e.g. 1280x720 → 720P) and `ratio`; older ones `size`
("1280*720"); `negative_prompt`, `prompt_extend` come from providerOptions.alibaba.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import Server, query
from videosynth.media.probe import probe

JS = Path(__file__).resolve().parents[1] / "js"
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(NODE is None, reason="Node.js is not installed (CI has it): the Vercel AI SDK needs it")


def _install_pinned_packages() -> None:
    """`npm ci` from the committed lock file when a fresh clone has none installed (.ci/run does it up front), so
    the README's test command works as written."""
    if (JS / "node_modules" / "@ai-sdk" / "alibaba").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("Node.js is here but npm is not: install npm, then `npm ci --prefix tests/js`")
    done = subprocess.run(
        [npm, "ci", "--prefix", str(JS), "--no-audit", "--no-fund", "--loglevel=error"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"`npm ci --prefix tests/js` failed: {done.stderr.strip()[-500:]}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose links name the deployment's hostname (localhost), not the address the client dialled."""
    _install_pinned_packages()
    server = Server(tmp_path_factory.mktemp("vercel"))
    server.env = {"VIDEOSYNTH_PUBLIC_BASE_URL": f"http://localhost:{server.port}"}
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def key(deployment: Server) -> str:
    return deployment.create_key("vercel-ai")


def _run(server: Server, key: str, out: Path, model: str, call: dict[str, Any], flow: str = "generate") -> Any:
    args = {
        "baseURL": server.base_url,
        "apiKey": key,
        "model": model,
        "out": str(out),
        "flow": flow,
        "prompt": "a lighthouse at dusk, waves on the rocks",
        "call": call,
    }
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(JS / "generate_video.mjs"), json.dumps(args)],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _stored_request(server: Server, task_id: str) -> dict[str, Any]:
    with sqlite3.connect(server.data_dir / "videosynth.db") as db:
        [(request,)] = db.execute("SELECT request_json FROM tasks WHERE task_id = ?", (task_id,)).fetchall()
    stored: dict[str, Any] = json.loads(request)
    return stored


def test_generate_video_wan27_resolution_and_ratio(deployment: Server, key: str, tmp_path: Path) -> None:
    out = tmp_path / "wan27.mp4"
    options = {"alibaba": {"negativePrompt": "blurry, low quality", "promptExtend": False}}
    call = {"resolution": "720x1280", "aspectRatio": "9:16", "duration": 2, "seed": 4242, "providerOptions": options}
    result = _run(deployment, key, out, "wan2.7-t2v", call)
    assert result["mediaType"] == "video/mp4" and result["size"] == out.stat().st_size
    info = probe(out)
    assert (info.codec, info.width, info.height) == ("h264", 720, 1280)
    assert abs(info.duration - 2.0) < 0.01
    meta = result["metadata"]["alibaba"]
    assert meta["videoUrl"].startswith(f"http://localhost:{deployment.port}/files/")
    assert meta["usage"] == {
        "duration": 2,
        "outputVideoDuration": 2,
        "resolution": 720,
        "inputVideoDuration": 0,
        "ratio": "9:16",
    }
    polled = query(deployment.base_url, key, meta["taskId"])["output"]
    assert polled["seed"] == 4242 and polled["task_status"] == "SUCCEEDED"
    stored = _stored_request(deployment, meta["taskId"])
    assert stored["negative_prompt"] == "blurry, low quality"
    assert stored["prompt_extend"] is False


def test_generate_video_wan26_size(deployment: Server, key: str, tmp_path: Path) -> None:
    out = tmp_path / "wan26.mp4"
    meta = _run(deployment, key, out, "wan2.6-t2v", {"resolution": "1280x720", "duration": 2, "seed": 77})["metadata"]
    info = probe(out)
    assert (info.width, info.height) == (1280, 720)
    assert meta["alibaba"]["usage"]["size"] == "1280*720"
    assert query(deployment.base_url, key, meta["alibaba"]["taskId"])["output"]["seed"] == 77


def test_start_then_status_later_and_its_idempotency_key(deployment: Server, key: str, tmp_path: Path) -> None:
    call = {
        "resolution": "1280x720",
        "duration": 2,
        "seed": 5,
        "headers": {"idempotency-key": f"vercel-{tmp_path.name}"},
    }
    first = _run(deployment, key, tmp_path / "first.mp4", "wan2.7-t2v", call, flow="start-status")
    again = _run(deployment, key, tmp_path / "again.mp4", "wan2.7-t2v", call, flow="start-status")
    # the same key is the same create: one task, one video, however often the SDK retries it
    assert first["operation"] == again["operation"] == {"taskId": first["metadata"]["alibaba"]["taskId"]}
    assert (tmp_path / "first.mp4").read_bytes() == (tmp_path / "again.mp4").read_bytes()
    assert probe(tmp_path / "first.mp4").width == 1280
