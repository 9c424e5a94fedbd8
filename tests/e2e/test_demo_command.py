"""Command 1 of the README: `videosynth demo "…"` does the whole job and reports the video."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.server import BASE_ENV
from videosynth.media.probe import probe


def test_demo_makes_and_reports_a_video(tmp_path: Path) -> None:
    env = {**os.environ, **BASE_ENV, "VIDEOSYNTH_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "videosynth", "demo", "黄昏海边的灯塔,镜头缓慢推进"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCEEDED" in done.stdout
    path = Path(re.search(r"^video: (.+\.mp4)$", done.stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    info = probe(path)
    assert (info.width, info.height, info.frames, info.fps) == (1280, 720, 80, 16)
    assert f"1280x720, 80 frames at 16 fps = 5.000 s, h264 yuv420p, {path.stat().st_size} bytes" in done.stdout
    assert re.search(r"seed \d+", done.stdout)
    assert _processes_with_env(f"VIDEOSYNTH_DATA_DIR={tmp_path / 'data'}") == []  # server and worker stopped


def _processes_with_env(entry: str) -> list[int]:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # exited meanwhile, or not ours to read
            continue
    return found
