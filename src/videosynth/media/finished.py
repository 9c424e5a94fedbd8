"""A finished video from a backend (e.g. an upstream's mp4), checked before it is stored as the task's result."""

from __future__ import annotations

from pathlib import Path

import av

from videosynth.media.probe import VideoInfo, probe


class RejectedVideo(ValueError):
    """A backend's finished video is not the H.264 mp4 of the requested size the API promises."""


def check_finished(path: Path, width: int, height: int) -> VideoInfo:
    """What ``path`` holds, decoded in full; RejectedVideo unless it is an H.264 mp4 of width × height."""
    if not _starts_with_ftyp(path):
        raise RejectedVideo(f"{path.name} is not an mp4 (it does not start with an ftyp box)")
    try:
        info = probe(path)
    except (av.error.FFmpegError, ValueError) as exc:  # ValueError: no video stream
        raise RejectedVideo(f"{path.name} does not decode as a video: {exc}") from exc
    problems = []
    if info.codec != "h264":
        problems.append(f"codec {info.codec}, expected h264")
    if (info.width, info.height) != (width, height):
        problems.append(f"size {info.width}x{info.height}, expected {width}x{height}")
    if info.frames < 1:
        problems.append("no frames")
    if problems:
        raise RejectedVideo(f"{path.name} is not the video asked for: " + "; ".join(problems))
    return info


def _starts_with_ftyp(path: Path) -> bool:
    # Every ISO media file opens with its ftyp box; checked first so that nothing else (Matroska, an HTML error
    # page) reaches the demuxer, whose format guessing is wide.
    with open(path, "rb") as f:
        return f.read(8)[4:8] == b"ftyp"
