"""`videosynth generate` and `videosynth tasks …` run as subprocesses against a real server: the file, the
progress lines, the final line, and one line plus the documented exit code for every failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.net import free_port
from tests.support.server import Server


def cli(*args: str, key: str | None = None, base_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DASHSCOPE_API_KEY", "VIDEOSYNTH_BASE_URL")}
    env |= {"DASHSCOPE_API_KEY": key} if key else {}
    env |= {"VIDEOSYNTH_BASE_URL": base_url} if base_url else {}
    return subprocess.run(
        [sys.executable, "-m", "videosynth", *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_generate_writes_the_file_with_progress_and_a_final_line(server: Server, key: str, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    done = cli(
        "generate", "a fox in snow", "-o", str(out), "--duration", "2", "--seed", "11", "--ratio", "1:1",
        "--negative-prompt", "blur", "--no-watermark", "--no-prompt-extend", key=key, base_url=server.base_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.is_file() and [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
    assert "PENDING" in done.stderr and "SUCCEEDED" in done.stderr  # one progress line per change, not a TTY
    [final] = done.stdout.strip().splitlines()
    assert final.startswith(f"{out}: {out.stat().st_size} bytes, ") and " frames, " in final and "seed 11" in final


def test_no_wait_then_tasks_get_watch_download(server: Server, key: str, tmp_path: Path) -> None:
    submitted = cli(
        "generate", "a boat", "--duration", "2", "--no-wait", "--api-key", key, "--base-url", server.base_url
    )
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.strip()
    watched = cli("tasks", "watch", task_id, key=key, base_url=server.base_url)
    assert watched.returncode == 0 and watched.stdout.startswith(f"{task_id} SUCCEEDED http"), watched.stderr
    shown = cli("tasks", "get", task_id, key=key, base_url=server.base_url)
    assert f"task_id: {task_id}" in shown.stdout and "status: SUCCEEDED" in shown.stdout
    target = tmp_path / "boat.mp4"
    fetched = cli("tasks", "download", task_id, "-o", str(target), key=key, base_url=server.base_url)
    assert fetched.returncode == 0 and target.stat().st_size > 0, fetched.stderr


def test_tasks_list_and_cancel(api_only: Server) -> None:
    key = api_only.create_key("cli-lister")
    task_id = cli("generate", "later", "--no-wait", key=key, base_url=api_only.base_url).stdout.strip()
    listed = cli("tasks", "list", key=key, base_url=api_only.base_url)
    assert listed.returncode == 0 and task_id in listed.stdout and "PENDING" in listed.stdout
    canceled = cli("tasks", "cancel", task_id, key=key, base_url=api_only.base_url)
    assert canceled.returncode == 0 and canceled.stdout.strip() == f"canceled {task_id}"
    again = cli("tasks", "cancel", task_id, key=key, base_url=api_only.base_url)
    assert again.returncode == 2 and again.stderr.startswith("videosynth: invalid parameter (UnsupportedOperation)")
    watched = cli("tasks", "watch", task_id, key=key, base_url=api_only.base_url)
    assert watched.returncode == 1 and f"task {task_id} CANCELED" in watched.stderr


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    [line] = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    return line


def test_failures_have_one_line_and_their_exit_code(api_only: Server, api_only_key: str, tmp_path: Path) -> None:
    url = api_only.base_url
    bad_key = cli("generate", "x", "-o", str(tmp_path / "x.mp4"), key="sk-wrong", base_url=url)
    assert bad_key.returncode == 3 and one_line(bad_key).startswith("videosynth: authentication failed (InvalidApiKey)")
    no_key = cli("tasks", "list", base_url=url)
    assert no_key.returncode == 3 and "DASHSCOPE_API_KEY" in one_line(no_key)
    nowhere = cli("tasks", "get", "x", key="k", base_url=f"http://127.0.0.1:{free_port()}")
    assert nowhere.returncode == 4 and one_line(nowhere).startswith("videosynth: server unreachable:")
    lost = cli("tasks", "watch", "x", "--max-retries", "1", key="k", base_url=f"http://127.0.0.1:{free_port()}")
    assert lost.returncode == 4 and one_line(lost).startswith("videosynth: server unreachable:")
    invalid = cli("generate", "x", "--resolution", "4K", key=api_only_key, base_url=url)
    assert invalid.returncode == 2 and "resolution" in one_line(invalid)
    unknown = cli("tasks", "get", "no-such-task", key=api_only_key, base_url=url)
    assert unknown.returncode == 1 and "no-such-task" in one_line(unknown)
    usage = cli("generate", key=api_only_key, base_url=url)
    assert usage.returncode == 2
    assert not list(tmp_path.iterdir())


def test_throttled_exits_5_and_an_expired_link_1(tmp_path: Path) -> None:
    strict = Server(tmp_path / "strict", {"VIDEOSYNTH_KEY_MAX_QUEUED": "1"}, worker=False).start()
    try:
        key = strict.create_key("strict")
        assert cli("generate", "first", "--no-wait", key=key, base_url=strict.base_url).returncode == 0
        second = cli("generate", "second", "--no-wait", "--max-retries", "1", key=key, base_url=strict.base_url)
        assert second.returncode == 5 and one_line(second).startswith("videosynth: throttled (Throttling)")
        link = f"{strict.base_url}/files/nothing.mp4?Expires=1&Signature=00"
        expired = cli("tasks", "download", link, "-o", str(tmp_path / "x.mp4"), key=key, base_url=strict.base_url)
        assert expired.returncode == 1 and one_line(expired).startswith("videosynth: link expired or invalid")
        assert not (tmp_path / "x.mp4").exists()
    finally:
        strict.stop()
