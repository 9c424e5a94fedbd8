"""Audio test files made on the spot with PyAV: a sine tone in any container PyAV can write (no downloads)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

# container → (format, encoder): the two formats audio_url accepts, and some it must refuse.
FORMATS = {
    "wav": ("wav", "pcm_s16le"),
    "mp3": ("mp3", "libmp3lame"),
    "mp2": ("mp2", "mp2"),  # MPEG layer 2: FFmpeg's mp3 demuxer reads it too, but the API does not allow it
    "adpcm-wav": ("wav", "adpcm_ms"),  # a wav, but not PCM
    "ogg": ("ogg", "libopus"),
    "flac": ("flac", "flac"),
}


def tone(seconds: float, rate: int = 44_100, channels: int = 1, hz: float = 440.0) -> npt.NDArray[np.float32]:
    """A sine at ``hz``, amplitude 0.5, shaped (channels, samples)."""
    t = np.arange(round(seconds * rate)) / rate
    wave = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.tile(wave, (channels, 1))


def write_tone(path: Path, kind: str, seconds: float, rate: int = 44_100, channels: int = 1, hz: float = 440.0) -> Path:
    """Write a ``seconds`` long tone to ``path`` as ``kind`` (a key of FORMATS); return ``path``."""
    fmt, codec = FORMATS[kind]
    layout = "mono" if channels == 1 else "stereo"
    samples = tone(seconds, rate, channels, hz)
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        for start in range(0, samples.shape[1], 1152):  # PyAV re-chunks to the encoder's frame size
            chunk = np.ascontiguousarray(samples[:, start : start + 1152])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.sample_rate, frame.pts = rate, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
