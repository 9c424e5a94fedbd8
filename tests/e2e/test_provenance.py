"""A server configured with a C2PA certificate stores mp4s whose manifest `videosynth verify` accepts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import Server, submit, wait_final
from videosynth.media.dev_certs import DevChain, make_dev_chain
from videosynth.media.probe import probe


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> DevChain:
    return make_dev_chain(tmp_path_factory.mktemp("chain"))


@pytest.fixture(scope="module")
def signing_server(tmp_path_factory: pytest.TempPathFactory, chain: DevChain) -> Iterator[Server]:
    env = {"VIDEOSYNTH_C2PA_CERT": str(chain.cert_file), "VIDEOSYNTH_C2PA_KEY": str(chain.key_file)}
    running = Server(tmp_path_factory.mktemp("signing"), env).start()
    yield running
    running.stop()


def _verify(path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "videosynth", "verify", str(path), *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_every_stored_video_carries_a_verifiable_ai_generation_manifest(
    signing_server: Server, chain: DevChain, tmp_path: Path
) -> None:
    ready = httpx.get(f"{signing_server.base_url}/readyz", timeout=10).json()
    assert ready["provenance"] == {"ok": True, "signed": True, "certificate": str(chain.cert_file), "alg": "es256"}

    key = signing_server.create_key("provenance")
    body = {"model": "wan2.7-t2v", "input": {"prompt": "a lighthouse at dusk"}, "parameters": {"duration": 2}}
    task_id = submit(signing_server.base_url, key, body).json()["output"]["task_id"]
    output = wait_final(signing_server.base_url, key, task_id)["output"]
    assert output["task_status"] == "SUCCEEDED", output
    video = tmp_path / "video.mp4"
    video.write_bytes(httpx.get(output["video_url"], timeout=30).content)
    assert (probe(video).width, probe(video).height) == (1280, 720)  # still the video the API promised

    done = _verify(video, "--trust-anchors", str(chain.root_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "AI-generated (trainedAlgorithmicMedia), model wan2.7-t2v" in done.stdout
    assert "trust: chains to a trust anchor" in done.stdout

    tampered = tmp_path / "tampered.mp4"
    data = bytearray(video.read_bytes())
    data[len(data) // 2] ^= 0xFF  # the middle of a 2 s clip's file is media data
    tampered.write_bytes(bytes(data))
    failed = _verify(tampered)
    assert failed.returncode == 1 and "hard binding: DOES NOT MATCH the file" in failed.stdout
