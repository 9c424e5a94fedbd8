"""``input.audio_url``: download it (bounded in size and time), decode it (wav or mp3 only), fit it to the video.

Every failure a client can cause is raised as a domain error whose message is safe to show (see media.fetch for
the download's); the underlying exception stays chained (``raise … from``) for the server's own logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt

from videosynth.domain.errors import UnsupportedFileFormat
from videosynth.media.fetch import MAX_REDIRECTS, FetchLimits, InputField, fetch_input

SAMPLE_RATE = 48_000  # every clip is resampled to this: AAC's native rate for video, so one code path for all
CHANNELS = 2  # stereo, like DashScope's own output (AAC stereo, api-contract §1.10)
MAX_BYTES = 15 * 2**20  # api-contract §1.3/§1.4: ≤ 15 MB
MIN_SECONDS, MAX_SECONDS = 2.0, 30.0  # api-contract §1.4 (wan2.7); the legacy models document 3 s
# A "30 s" file is rarely exactly 30 s: encoders round to whole frames (an mp3 frame is ~26 ms) and some add
# padding. Accept this much either side of the limits rather than reject a file the client believes is valid.
_DURATION_SLACK_S = 0.1
_FADE_S = 0.01  # fade-out where a clip is cut, so it does not end on a click


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is ambiguous
class AudioClip:
    """Decoded audio: ``samples`` is planar float32, shaped (channels, samples), nominally in [-1, 1]."""

    samples: npt.NDArray[np.float32]
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or self.samples.shape[0] < 1 or self.samples.dtype != np.float32:
            raise ValueError(f"expected float32 samples shaped (channels, n), got {self.samples.dtype}")
        if self.sample_rate < 1:
            raise ValueError(f"sample rate must be ≥ 1, got {self.sample_rate}")

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


# ------------------------------------------------------------------------------------------------------- fetch

AUDIO_URL = InputField("audio_url", "audio file")


def fetch_audio(
    url: str,
    dest: Path,
    max_bytes: int = MAX_BYTES,
    timeout_s: float = 30.0,
    *,
    max_redirects: int = MAX_REDIRECTS,
    allow_private: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` (whose folder must exist) and return ``dest``; InputDownloadFailed otherwise.

    media.fetch does the work, with its size, time, redirect and address limits. http(s) only: the API takes
    audio_url as a URL (api-contract §1.3). ``allow_private`` defaults to True because a self-hosted service
    often serves audio from its own LAN (and the tests use loopback); the worker passes its setting, off unless
    the operator turns it on.
    """
    limits = FetchLimits(max_bytes, timeout_s, allow_private, max_redirects, data_uris=False)
    return fetch_input(url, dest, limits, AUDIO_URL).path


# ------------------------------------------------------------------------------------------------------ decode


def decode_audio(path: str | Path, min_s: float = MIN_SECONDS, max_s: float = MAX_SECONDS) -> AudioClip:
    """Decode a wav (PCM) or mp3 file to a stereo float32 clip at ``SAMPLE_RATE``.

    UnsupportedFileFormat for anything else, for a file that does not decode, and for a duration outside
    [``min_s``, ``max_s``] (with a little slack for encoder rounding). The duration is measured by decoding,
    not read from headers, which a VBR mp3 may not have or may get wrong.
    """
    kind = _sniff(Path(path))
    try:
        with av.open(str(path), format=kind) as container:
            stream = _audio_stream(container, kind)
            samples = _decode(container, stream, max_s + _DURATION_SLACK_S)
            header_duration = _header_duration(container)
    except (av.error.FFmpegError, ValueError) as exc:  # ValueError: the resampler meets a mid-stream format change
        raise UnsupportedFileFormat(f"The audio file could not be decoded as {kind}.") from exc
    clip = AudioClip(samples, SAMPLE_RATE)
    _check_duration(clip, kind, min_s, max_s, header_duration)
    return clip


def _sniff(path: Path) -> str:
    """'wav' or 'mp3' from the file's first bytes, else UnsupportedFileFormat.

    The demuxer is then forced to that format instead of letting FFmpeg guess: its guess can pick any of
    hundreds of demuxers, including playlist formats (HLS) that open further URLs or local files, which would
    turn an uploaded "audio" file into an SSRF or file-read hole.
    """
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:3] == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):  # ID3 tag / sync
        return "mp3"
    raise UnsupportedFileFormat("The audio file is not wav or mp3.")


def _audio_stream(container: av.container.InputContainer, kind: str) -> av.audio.stream.AudioStream:
    if not container.streams.audio:
        raise UnsupportedFileFormat(f"The {kind} file holds no audio stream.")
    stream = container.streams.audio[0]
    codec = stream.codec_context.codec.canonical_name
    # A wav may wrap any codec and FFmpeg's mp3 demuxer also reads mp1/mp2: keep to the formats the API
    # promises (plain PCM wav, MPEG layer 3), which also keeps rarely used decoders away from untrusted input.
    if (kind == "wav" and not codec.startswith("pcm_")) or (kind == "mp3" and codec != "mp3"):
        raise UnsupportedFileFormat(f"The {kind} file holds {codec} audio; only PCM wav and mp3 are supported.")
    return stream


def _decode(
    container: av.container.InputContainer, stream: av.audio.stream.AudioStream, stop_after_s: float
) -> npt.NDArray[np.float32]:
    """All samples as (CHANNELS, n) float32 at SAMPLE_RATE, or the first ``stop_after_s`` and a bit: a 15 MB
    8 kHz wav lasts half an hour, and decoding it all would only prove that it is too long."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
    limit = round(stop_after_s * SAMPLE_RATE)
    chunks: list[npt.NDArray[Any]] = []
    total = 0
    for frame in container.decode(stream):
        for out in resampler.resample(frame):
            chunks.append(out.to_ndarray())
            total += out.samples
        if total > limit:
            break
    else:
        chunks.extend(out.to_ndarray() for out in resampler.resample(None))  # flush the resampler's delay
    if not chunks:
        return np.zeros((CHANNELS, 0), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate(chunks, axis=1), dtype=np.float32)


def _header_duration(container: av.container.InputContainer) -> float | None:
    return float(container.duration / av.time_base) if container.duration is not None else None


def _check_duration(clip: AudioClip, kind: str, min_s: float, max_s: float, header_s: float | None) -> None:
    if clip.frames == 0:
        raise UnsupportedFileFormat(f"The {kind} file holds no decodable audio.")
    if clip.duration < min_s - _DURATION_SLACK_S:
        raise UnsupportedFileFormat(
            f"The {kind} audio is {clip.duration:.1f} s long; it must be {_span(min_s, max_s)}."
        )
    if clip.duration > max_s + _DURATION_SLACK_S:
        # Decoding stopped early, so the header's figure (when there is one) tells the client how long it is.
        length = f"{header_s:.1f} s long" if header_s and header_s > max_s else f"longer than {max_s:g} s"
        raise UnsupportedFileFormat(f"The {kind} audio is {length}; it must be {_span(min_s, max_s)}.")


def _span(min_s: float, max_s: float) -> str:
    return f"{min_s:g}–{max_s:g} s"


# --------------------------------------------------------------------------------------------------------- fit


def fit_audio(clip: AudioClip, duration_s: float) -> AudioClip:
    """Exactly ``duration_s`` of audio: cut (with a short fade-out) when longer, padded with silence when shorter.

    That is DashScope's rule (api-contract §1.3): longer audio is cut, and past the end of shorter audio the
    video is silent.
    """
    target = round(duration_s * clip.sample_rate)
    if target < 1:
        raise ValueError(f"duration must be positive, got {duration_s}")
    if target == clip.frames:
        return clip
    if target < clip.frames:
        return AudioClip(_fade_out(clip.samples[:, :target], clip.sample_rate), clip.sample_rate)
    padded = np.pad(clip.samples, ((0, 0), (0, target - clip.frames)))
    return AudioClip(padded, clip.sample_rate)


def _fade_out(samples: npt.NDArray[np.float32], sample_rate: int) -> npt.NDArray[np.float32]:
    """A copy whose last ``_FADE_S`` ramps linearly to zero: a sound cut mid-wave ends in an audible click."""
    out = samples.copy()
    length = min(out.shape[1], max(1, round(_FADE_S * sample_rate)))
    out[:, -length:] *= np.linspace(1.0, 0.0, length, dtype=np.float32)
    return out
