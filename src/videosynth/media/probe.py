"""What an mp4 really contains, read back with PyAV (no ffprobe on the machines)."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

import av


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    pix_fmt: str
    width: int
    height: int
    fps: float
    frames: int  # counted by decoding, not taken from the header
    duration: float  # seconds
    has_audio: bool
    moov_before_mdat: bool  # "faststart": a browser can start playing before the whole file has arrived
    color_space: str | None  # e.g. "bt709"; None when untagged
    # First audio stream; all None without one. Its duration is counted by decoding, like ``frames``: for AAC
    # that includes the encoder's padding of the last packet (under 1024 samples, ~21 ms at 48 kHz).
    audio_codec: str | None = None
    audio_sample_rate: int | None = None
    audio_channels: int | None = None
    audio_duration: float | None = None

    @property
    def seconds(self) -> float:
        """How long the video track plays: its decoded frames at its frame rate. The container's duration may run
        longer by the soundtrack's last padded packet."""
        return self.frames / self.fps if self.fps else self.duration


def probe(path: str | Path) -> VideoInfo:
    """Decode ``path`` fully and describe its first video stream and its first audio stream, if any."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        audio = container.streams.audio[0] if container.streams.audio else None
        frames, samples = _count(container, stream, audio)
        return VideoInfo(
            codec=ctx.name,
            pix_fmt=ctx.pix_fmt or "",
            width=ctx.width,
            height=ctx.height,
            fps=float(rate) if rate else 0.0,
            frames=frames,
            duration=_duration(container, stream),
            has_audio=bool(container.streams.audio),
            moov_before_mdat=moov_before_mdat(path),
            color_space=_color_space(ctx.colorspace),
            **_audio_fields(audio, samples),
        )


def _count(
    container: av.container.InputContainer,
    video: av.video.stream.VideoStream,
    audio: av.audio.stream.AudioStream | None,
) -> tuple[int, int]:
    """Video frames and audio samples (per channel), decoding both streams in one pass over the file."""
    streams = [video] if audio is None else [video, audio]
    frames = samples = 0
    for packet in container.demux(*streams):
        for frame in packet.decode():
            if isinstance(frame, av.AudioFrame):
                samples += frame.samples
            else:
                frames += 1
    return frames, samples


class _AudioFields(TypedDict, total=False):
    audio_codec: str
    audio_sample_rate: int
    audio_channels: int
    audio_duration: float


def _audio_fields(audio: av.audio.stream.AudioStream | None, samples: int) -> _AudioFields:
    if audio is None:
        return {}
    ctx = audio.codec_context
    return {
        "audio_codec": ctx.name,
        "audio_sample_rate": ctx.sample_rate,
        "audio_channels": ctx.channels,
        "audio_duration": samples / ctx.sample_rate if ctx.sample_rate else 0.0,
    }


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if container.duration is not None:
        return float(container.duration / av.time_base)
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _color_space(value: int) -> str | None:
    names = {1: "bt709", 5: "bt470bg", 6: "smpte170m", 9: "bt2020nc"}  # AVColorSpace values we may meet
    return names.get(value)


def moov_before_mdat(path: str | Path) -> bool:
    """Walk the top-level MP4 boxes: True when the index (moov) comes before the media data (mdat)."""
    with open(path, "rb") as f:
        while header := f.read(8):
            if len(header) < 8:
                break
            size, kind = struct.unpack(">I4s", header)
            if kind in (b"moov", b"mdat"):
                return bool(kind == b"moov")
            if size == 1:  # 64-bit size follows the type
                (size,) = struct.unpack(">Q", f.read(8))
                f.seek(size - 16, 1)
            elif size == 0:  # box runs to the end of the file
                break
            elif size < 8:
                break  # corrupt: a box can't be smaller than its header
            else:
                f.seek(size - 8, 1)
    return False
