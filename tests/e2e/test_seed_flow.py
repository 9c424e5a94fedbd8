"""The seed's curl flow against a real server: create, poll, download without Authorization, inspect the mp4."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.support.server import Server, query, submit, wait_final
from videosynth.media.probe import probe

SEED_PROMPT = "黄昏海边的灯塔,镜头缓慢推进,海浪轻拍礁石,海鸟叫声,电影级光影,稳定运镜"
TIME_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _download(url: str, target: Path) -> Path:
    response = httpx.get(url, timeout=30)  # no Authorization header, as with an OSS link
    assert response.status_code == 200
    assert response.headers["content-type"] == "video/mp4"
    target.write_bytes(response.content)
    return target


def _frames(path: Path) -> np.ndarray:
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_seed_curl_flow_produces_the_documented_video(server: Server, key: str, tmp_path: Path) -> None:
    created = submit(server.base_url, key, {"model": "wan2.7-t2v", "input": {"prompt": SEED_PROMPT}})
    assert created.status_code == 200
    assert created.headers["content-type"].startswith("application/json")
    body = created.json()
    assert set(body) == {"output", "request_id"}
    assert body["output"]["task_status"] == "PENDING"
    assert UUID.match(body["output"]["task_id"]) and UUID.match(body["request_id"])

    done = wait_final(server.base_url, key, body["output"]["task_id"])
    output = done["output"]
    assert output["task_status"] == "SUCCEEDED", output
    for field in ("submit_time", "scheduled_time", "end_time"):
        assert TIME_FORMAT.match(output[field]), output[field]
    assert output["submit_time"] <= output["scheduled_time"] <= output["end_time"]
    assert output["orig_prompt"] == SEED_PROMPT
    assert done["usage"] == {
        "duration": 5,
        "input_video_duration": 0,
        "output_video_duration": 5,
        "video_count": 1,
        "ratio": "16:9",
        "SR": 720,
    }
    info = probe(_download(output["video_url"], tmp_path / "seed.mp4"))
    assert (info.width, info.height) == (1280, 720)
    assert info.frames == 5 * 16 and info.fps == 16
    assert abs(info.duration - 5.0) < 0.01
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert info.moov_before_mdat


def test_documented_parameters_shape_the_video(server: Server, key: str, tmp_path: Path) -> None:
    body = {
        "model": "wan2.7-t2v-2026-04-25",
        "input": {"prompt": "a fox in snow", "negative_prompt": "blurry"},
        "parameters": {
            "resolution": "720P",
            "ratio": "4:3",
            "duration": 2,
            "prompt_extend": False,
            "seed": 7,
        },
    }
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    done = wait_final(server.base_url, key, task_id)
    assert done["output"]["task_status"] == "SUCCEEDED"
    assert done["usage"]["ratio"] == "4:3" and done["usage"]["duration"] == 2
    assert done["output"]["seed"] == 7
    info = probe(_download(done["output"]["video_url"], tmp_path / "a.mp4"))
    assert (info.width, info.height, info.frames) == (1104, 832, 32)


def test_same_seed_same_frames_and_watermark_marks_the_corner(server: Server, key: str, tmp_path: Path) -> None:
    def run(watermark: bool, name: str) -> np.ndarray:
        body = {
            "model": "wan2.7-t2v",
            "input": {"prompt": "a lighthouse at dusk"},
            "parameters": {"duration": 2, "seed": 1234, "watermark": watermark, "prompt_extend": False},
        }
        task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
        done = wait_final(server.base_url, key, task_id)
        return _frames(_download(done["output"]["video_url"], tmp_path / name))

    plain_a, plain_b, marked = run(False, "a.mp4"), run(False, "b.mp4"), run(True, "c.mp4")
    assert np.array_equal(plain_a, plain_b)
    diff = np.abs(marked.astype(int) - plain_a.astype(int)).mean(axis=(0, 3))  # (H, W)
    height, width = diff.shape
    corner = diff[int(height * 0.85) :, int(width * 0.75) :]
    assert (corner > 60).mean() > 0.02  # "AI 生成" strokes drawn bottom-right
    assert (diff[: height // 2, : width // 2] > 60).mean() == 0  # the rest is untouched


def test_legacy_size_protocol_and_usage(server: Server, key: str, tmp_path: Path) -> None:
    body = {
        "model": "wan2.6-t2v",
        "input": {"prompt": "rain on a window"},
        "parameters": {"size": "832*1088", "duration": 2},
    }
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    done = wait_final(server.base_url, key, task_id)
    assert done["usage"] == {
        "duration": 2,
        "size": "832*1088",
        "input_video_duration": 0,
        "output_video_duration": 2,
        "video_count": 1,
        "SR": 720,
    }
    info = probe(_download(done["output"]["video_url"], tmp_path / "legacy.mp4"))
    assert (info.width, info.height, info.frames) == (832, 1088, 32)


def test_no_seed_records_a_random_one_that_reproduces_the_video(server: Server, key: str, tmp_path: Path) -> None:
    def run(parameters: dict[str, object], name: str) -> tuple[int, np.ndarray]:
        body = {"model": "wan2.7-t2v", "input": {"prompt": "a red kite"}, "parameters": parameters}
        task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
        output = wait_final(server.base_url, key, task_id)["output"]
        return output["seed"], _frames(_download(output["video_url"], tmp_path / name))

    chosen, first = run({"duration": 2, "prompt_extend": False}, "random.mp4")
    assert type(chosen) is int and 0 <= chosen <= 2_147_483_647
    given, again = run({"duration": 2, "prompt_extend": False, "seed": chosen}, "again.mp4")
    assert given == chosen and np.array_equal(first, again)


def test_apiyi_poll_shape(server: Server, key: str) -> None:
    body = {"model": "wan2.7-t2v", "input": {"prompt": "a red kite"}, "parameters": {"duration": 2}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    wait_final(server.base_url, key, task_id)
    polled = httpx.get(f"{server.base_url}/v1/tasks/{task_id}", headers={"Authorization": f"Bearer {key}"}).json()
    assert polled["status"] == "completed" and polled["progress"] == 100 and polled["error"] is None
    assert polled["task_id"] == task_id and httpx.get(polled["result_url"]).status_code == 200


def test_links_reject_tampering_and_reveal_nothing(server: Server, key: str) -> None:
    body = {"model": "wan2.7-t2v", "input": {"prompt": "a kite"}, "parameters": {"duration": 2}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    url = wait_final(server.base_url, key, task_id)["output"]["video_url"]
    signature = url.rsplit("=", 1)[1]
    forged = url[: -len(signature)] + ("0" if signature[0] != "0" else "1") + signature[1:]
    longer = re.sub(r"Expires=(\d+)", lambda m: f"Expires={int(m.group(1)) + 3600}", url)
    other_file = url.replace(task_id, "00000000-0000-0000-0000-000000000000")
    for bad in (forged, longer, other_file, url.split("?")[0]):
        response = httpx.get(bad)
        assert response.status_code == 403
        assert response.json()["code"] == "AccessDenied"
        assert task_id not in response.text


@pytest.mark.parametrize("owner_sees", [True, False])
def test_another_keys_task_is_unknown(server: Server, key: str, other_key: str, owner_sees: bool) -> None:
    body = {"model": "wan2.7-t2v", "input": {"prompt": "mine"}, "parameters": {"duration": 2}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    viewer = key if owner_sees else other_key
    seen = query(server.base_url, viewer, task_id)
    if owner_sees:
        assert seen["output"]["task_status"] in {"PENDING", "RUNNING", "SUCCEEDED"}
    else:  # exactly what a made-up id gets: no hint that the task exists
        assert seen["output"] == {"task_id": task_id, "task_status": "UNKNOWN"}
        assert query(server.base_url, viewer, "made-up")["output"]["task_status"] == "UNKNOWN"


def test_metrics_show_routes_queue_and_task_states(server: Server, key: str) -> None:
    body = {"model": "wan2.7-t2v", "input": {"prompt": "metrics"}, "parameters": {"duration": 2}}
    task_id = submit(server.base_url, key, body).json()["output"]["task_id"]
    wait_final(server.base_url, key, task_id)
    text = httpx.get(f"{server.base_url}/metrics").text
    assert 'route="/api/v1/tasks/{task_id}"' in text and task_id not in text  # templates, never raw ids
    assert re.search(r'videosynth_tasks\{[^}]*status="SUCCEEDED"[^}]*\} [1-9]', text)
    assert "videosynth_queue_depth" in text and "videosynth_workers_active" in text
