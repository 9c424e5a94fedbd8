"""A backend's output → the mp4 that is stored: frames are fitted, marked and encoded; a finished video is checked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from videosynth.backends.base import FinishedVideo, Frames
from videosynth.domain.plan import GenerationPlan
from videosynth.media.audio import AudioClip
from videosynth.media.encode import encode_mp4
from videosynth.media.finished import check_finished
from videosynth.media.frames import fit_frames
from videosynth.media.probe import VideoInfo
from videosynth.media.watermark import watermark


@dataclass(frozen=True)
class Video:
    path: Path
    info: VideoInfo  # read back from the file: what the client gets (and is billed for)
    # The frames that were encoded (fitted, marked): what the mp4 shows, for its images. None for a finished video,
    # whose frames are only in its file.
    frames: Frames | None = None


def video_from(
    output: Frames | FinishedVideo, plan: GenerationPlan, marked: bool, audio: AudioClip | None, dest: Path
) -> Video:
    """The video to store. Frames become an H.264 mp4 at ``dest`` of exactly the plan's size and length (with the
    "AI 生成" mark when ``marked``, and the soundtrack); a finished video is kept where it is, as it is, once it
    proved to be an H.264 mp4 of the plan's size (its backend made the rest of it, the soundtrack included)."""
    if isinstance(output, FinishedVideo):
        return Video(output.path, check_finished(output.path, plan.width, plan.height))
    frames = fit_frames(output, plan)
    if marked:
        frames = watermark(frames)
    return Video(dest, encode_mp4(frames, dest, plan.fps, audio=audio), frames)
