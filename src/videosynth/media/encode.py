"""Frames (and optionally audio) → H.264 (+ AAC) mp4 that every browser plays, verified after writing."""

from __future__ import annotations

import os
import secrets
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from videosynth.media.audio import AudioClip, fit_audio
from videosynth.media.frames import Frames, check_frames
from videosynth.media.probe import VideoInfo, probe

_BT709 = 1  # AVCOL_PRI_BT709 / AVCOL_TRC_BT709 / AVCOL_SPC_BT709
_AUDIO_BIT_RATE = 128_000  # stereo AAC-LC: transparent enough for a soundtrack, small next to the video
_AAC_FRAME = 1024  # samples per AAC-LC packet
# Sample rates an AAC stream can signal (ISO 14496-3 sampling_frequency_index).
_AAC_RATES = frozenset({96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350})
# The decoded AAC track runs past the video by the padding of its last packet (< 1024 samples, ~21 ms at 48 kHz);
# more than this means samples were lost or added.
_AUDIO_SLACK_S = 0.05


class EncodeError(RuntimeError):
    """The written file is not the video that was asked for."""


def encode_mp4(
    frames: Frames,
    path: str | Path,
    fps: int,
    crf: int = 20,
    preset: str = "veryfast",
    audio: AudioClip | None = None,
) -> VideoInfo:
    """Write ``frames`` to ``path`` as H.264 yuv420p with the index up front ("faststart"); what was written.

    Odd sizes are padded by one edge row/column (yuv420p halves chroma resolution, so libx264 needs even
    sizes). With ``audio`` (mono or stereo, at a rate AAC supports), the file also gets a stereo AAC track at the
    clip's rate, first fitted to the video's length (cut or padded with silence), interleaved with the video so
    that a browser can play either from the first bytes. The file appears at ``path`` only once it has been
    decoded back and checked, so a crash or a bad encode never leaves a half-written video there.
    """
    check_frames(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    if fps < 1:
        raise ValueError(f"fps must be ≥ 1, got {fps}")
    if audio is not None:
        audio = _prepare_audio(audio, len(frames) / fps)
    path = Path(path)
    frames = _pad_even(frames)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial")
    try:
        _write(frames, tmp, fps, crf, preset, audio)
        info = _verify(tmp, frames, fps, audio)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return info


def _prepare_audio(audio: AudioClip, duration_s: float) -> AudioClip:
    if audio.sample_rate not in _AAC_RATES:
        raise ValueError(f"AAC cannot carry {audio.sample_rate} Hz audio; resample it first")
    if audio.channels == 1:
        audio = AudioClip(np.repeat(audio.samples, 2, axis=0), audio.sample_rate)
    elif audio.channels != 2:
        raise ValueError(f"expected mono or stereo audio, got {audio.channels} channels")
    return fit_audio(audio, duration_s)


def _pad_even(frames: Frames) -> Frames:
    _, height, width, _ = frames.shape
    if height % 2 == 0 and width % 2 == 0:
        return frames
    return np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")


def _write(frames: Frames, path: Path, fps: int, crf: int, preset: str, audio: AudioClip | None) -> None:
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = _add_video(container, frames, fps, crf, preset)
        sound = _AudioTrack(container, audio) if audio is not None else None
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(
                format="yuv420p",
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = index
            container.mux(stream.encode(frame))
            if sound is not None:
                sound.write_until((index + 1) / fps)  # keep both tracks in step, so the file interleaves them
        container.mux(stream.encode(None))  # flush the encoder's delayed frames
        if sound is not None:
            sound.finish()


def _add_video(
    container: av.container.OutputContainer, frames: Frames, fps: int, crf: int, preset: str
) -> av.video.stream.VideoStream:
    _, height, width, _ = frames.shape
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.time_base = Fraction(1, fps)
    stream.options = {"crf": str(crf), "preset": preset}
    # Tag BT.709 limited range and convert with exactly that matrix: browsers decode untagged HD video as
    # BT.709, while swscale's default RGB→YUV matrix is BT.601, which would shift colours slightly.
    ctx = stream.codec_context
    ctx.colorspace = ctx.color_primaries = ctx.color_trc = _BT709
    ctx.color_range = ColorRange.MPEG
    return stream


class _AudioTrack:
    """Feeds a stereo clip to an AAC stream in whole encoder frames, only as far as the video has got.

    FFmpeg's muxer reorders packets by time only within a 10 s window (max_interleave_delta): encoding all the
    video first and the audio after would leave the two tracks in separate runs of the file, and a browser
    would have to fetch most of it before playing with sound.
    """

    def __init__(self, container: av.container.OutputContainer, clip: AudioClip) -> None:
        self._container, self._clip, self._pos = container, clip, 0
        self._stream = container.add_stream("aac", rate=clip.sample_rate)
        self._stream.layout = "stereo"
        self._stream.bit_rate = _AUDIO_BIT_RATE
        self._stream.codec_context.time_base = Fraction(1, clip.sample_rate)

    def write_until(self, seconds: float) -> None:
        self._write_to(min(self._clip.frames, round(seconds * self._clip.sample_rate)))

    def finish(self) -> None:
        self._write_to(self._clip.frames)
        self._container.mux(self._stream.encode(None))  # flush the encoder's delayed packets

    def _write_to(self, end: int) -> None:
        while self._pos < end:
            chunk = np.ascontiguousarray(self._clip.samples[:, self._pos : self._pos + _AAC_FRAME])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = self._clip.sample_rate, self._pos
            frame.time_base = Fraction(1, self._clip.sample_rate)
            self._container.mux(self._stream.encode(frame))
            self._pos += chunk.shape[1]


def _verify(path: Path, frames: Frames, fps: int, audio: AudioClip | None) -> VideoInfo:
    count, height, width, _ = frames.shape
    info = probe(path)
    problems = _audio_problems(info, count / fps, audio)
    if (info.codec, info.pix_fmt) != ("h264", "yuv420p"):
        problems.append(f"codec {info.codec}/{info.pix_fmt}, expected h264/yuv420p")
    if (info.width, info.height) != (width, height):
        problems.append(f"size {info.width}x{info.height}, expected {width}x{height}")
    if info.frames != count:
        problems.append(f"{info.frames} frames, expected {count}")
    if problems:
        raise EncodeError(f"encoded {path.name} is wrong: " + "; ".join(problems))
    return info


def _audio_problems(info: VideoInfo, duration_s: float, audio: AudioClip | None) -> list[str]:
    if audio is None:
        return ["unexpected audio stream"] if info.has_audio else []
    if not info.has_audio:
        return ["no audio stream"]
    problems = []
    if (info.audio_codec, info.audio_channels, info.audio_sample_rate) != ("aac", 2, audio.sample_rate):
        problems.append(
            f"audio {info.audio_codec}/{info.audio_channels}ch/{info.audio_sample_rate} Hz, "
            f"expected aac/2ch/{audio.sample_rate} Hz"
        )
    if info.audio_duration is None or abs(info.audio_duration - duration_s) > _AUDIO_SLACK_S:
        problems.append(f"audio lasts {info.audio_duration} s, expected {duration_s:.3f} s")
    return problems
