"""media/audio: decoding wav/mp3 audio_url files, fitting them to the video, muxing them as AAC (design.md §4)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from tests.support.audio import tone, write_tone

from videosynth.domain.errors import UnsupportedFileFormat
from videosynth.media import encode as encode_module
from videosynth.media.audio import SAMPLE_RATE, AudioClip, decode_audio, fit_audio
from videosynth.media.encode import EncodeError, encode_mp4
from videosynth.media.probe import probe


def _peak_hz(samples: npt.NDArray[np.float32], rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def _clip(seconds: float, channels: int = 2) -> AudioClip:
    return AudioClip(tone(seconds, SAMPLE_RATE, channels), SAMPLE_RATE)


def _frames(count: int) -> npt.NDArray[np.uint8]:
    return np.full((count, 48, 64, 3), 128, dtype=np.uint8)


# ------------------------------------------------------------------------------------------------------ decode


@pytest.mark.parametrize(
    ("kind", "rate", "channels"),
    [("wav", 44_100, 1), ("wav", 48_000, 2), ("mp3", 44_100, 2), ("mp3", 22_050, 1)],
)
def test_decode_gives_stereo_48k_float_of_the_right_length_and_pitch(
    tmp_path: Path, kind: str, rate: int, channels: int
) -> None:
    path = write_tone(tmp_path / f"a.{kind}", kind, 3.0, rate, channels, hz=440.0)
    clip = decode_audio(path)
    assert (clip.sample_rate, clip.channels, clip.samples.dtype) == (SAMPLE_RATE, 2, np.float32)
    assert clip.duration == pytest.approx(3.0, abs=0.01)
    assert _peak_hz(clip.samples[0], SAMPLE_RATE) == pytest.approx(440.0, abs=1.0)  # resampled, not re-pitched
    assert np.allclose(clip.samples[0], clip.samples[1], atol=1e-3)  # mono reaches both channels
    assert 0.2 < np.abs(clip.samples).max() <= 1.0


def test_decode_does_not_trust_the_file_name(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.wav", "mp3", 2.5)  # mp3 content under a .wav name
    assert decode_audio(path).duration == pytest.approx(2.5, abs=0.01)


@pytest.mark.parametrize(("kind", "seconds"), [("wav", 2.0), ("mp3", 2.0), ("wav", 30.0), ("mp3", 30.0)])
def test_decode_accepts_the_limits(tmp_path: Path, kind: str, seconds: float) -> None:
    path = write_tone(tmp_path / f"a.{kind}", kind, seconds, rate=16_000)
    assert decode_audio(path).duration == pytest.approx(seconds, abs=0.05)


@pytest.mark.parametrize(("kind", "seconds"), [("wav", 1.0), ("mp3", 1.0)])
def test_decode_refuses_too_short_audio_saying_how_long_it_is(tmp_path: Path, kind: str, seconds: float) -> None:
    path = write_tone(tmp_path / f"a.{kind}", kind, seconds)
    with pytest.raises(UnsupportedFileFormat, match=rf"{kind} audio is 1\.0 s long; it must be 2–30 s") as caught:
        decode_audio(path)
    assert caught.value.code == "BadRequest.UnsupportedFileFormat"


@pytest.mark.parametrize("kind", ["wav", "mp3"])
def test_decode_refuses_too_long_audio_saying_how_long_it_is(tmp_path: Path, kind: str) -> None:
    path = write_tone(tmp_path / f"a.{kind}", kind, 31.0, rate=16_000)
    with pytest.raises(UnsupportedFileFormat, match=rf"{kind} audio is 31\.0 s long; it must be 2–30 s"):
        decode_audio(path)


def test_decode_stops_early_on_very_long_audio(tmp_path: Path) -> None:
    """A 15 MB budget holds half an hour of 8 kHz audio: that must not be decoded in full to be refused."""
    path = write_tone(tmp_path / "long.wav", "wav", 600.0, rate=8_000)  # ~9.6 MB
    with pytest.raises(UnsupportedFileFormat, match=r"600\.0 s long"):
        decode_audio(path)


def _png(path: Path) -> Path:
    Image.new("RGB", (8, 8), "red").save(path, format="PNG")
    return path


def _garbage(path: Path) -> Path:
    path.write_bytes(b"<html><body>Not Found</body></html>")
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _truncated_wav(path: Path) -> Path:
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVE")  # a wav header that stops before any chunk
    return path


def _fake_mp3(path: Path) -> Path:
    path.write_bytes(b"\xff\xfb" + bytes(range(256)) * 40)  # a frame sync and then noise
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: write_tone(p, "ogg", 3.0, rate=48_000), "not wav or mp3"),
        (lambda p: write_tone(p, "flac", 3.0), "not wav or mp3"),
        (_png, "not wav or mp3"),
        (_garbage, "not wav or mp3"),
        (_empty, "not wav or mp3"),
        (lambda p: write_tone(p, "mp2", 3.0), "mp3 file holds mp2 audio; only PCM wav and mp3"),
        (lambda p: write_tone(p, "adpcm-wav", 3.0), "wav file holds adpcm_ms audio; only PCM wav and mp3"),
        (_truncated_wav, "wav"),
        (_fake_mp3, "mp3"),
    ],
    ids=["ogg", "flac", "png", "html", "empty", "mp2", "adpcm-wav", "truncated-wav", "fake-mp3"],
)
def test_decode_refuses_other_formats(tmp_path: Path, make: Callable[[Path], Path], message: str) -> None:
    path = make(tmp_path / "upload.mp3")
    with pytest.raises(UnsupportedFileFormat, match=message) as caught:
        decode_audio(path)
    assert "upload" not in caught.value.message  # never a server-side path in what the client sees


# --------------------------------------------------------------------------------------------------------- fit


def test_fit_cuts_longer_audio_with_a_short_fade() -> None:
    clip = _clip(3.0)
    fitted = fit_audio(clip, 2.0)
    assert fitted.frames == 2 * SAMPLE_RATE
    assert fitted.duration == 2.0
    head = 2 * SAMPLE_RATE - SAMPLE_RATE // 100  # everything before the 10 ms fade is untouched
    np.testing.assert_array_equal(fitted.samples[:, :head], clip.samples[:, :head])
    assert np.all(fitted.samples[:, -1] == 0.0)
    assert np.all(np.abs(fitted.samples[:, head:]) <= np.abs(clip.samples[:, head : 2 * SAMPLE_RATE]) + 1e-7)
    assert clip.frames == 3 * SAMPLE_RATE  # the input is not changed


def test_fit_pads_shorter_audio_with_silence() -> None:
    clip = _clip(2.5)
    fitted = fit_audio(clip, 5.0)
    assert fitted.frames == 5 * SAMPLE_RATE
    np.testing.assert_array_equal(fitted.samples[:, : clip.frames], clip.samples)
    assert not fitted.samples[:, clip.frames :].any()


def test_fit_to_the_same_length_is_a_no_op() -> None:
    clip = _clip(2.0)
    assert fit_audio(clip, 2.0) is clip


def test_fit_rounds_to_whole_samples_and_rejects_nothing() -> None:
    assert fit_audio(_clip(2.0), 17 / 16).frames == round(17 / 16 * SAMPLE_RATE)
    with pytest.raises(ValueError):
        fit_audio(_clip(2.0), 0.0)


def test_audio_clip_checks_its_samples() -> None:
    with pytest.raises(ValueError):
        AudioClip(np.zeros(10, dtype=np.float32), SAMPLE_RATE)
    with pytest.raises(ValueError):
        AudioClip(np.zeros((2, 10), dtype=np.float64), SAMPLE_RATE)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------------- encode


@pytest.mark.parametrize(("seconds", "channels"), [(2.0, 2), (7.0, 2), (5.0, 1)], ids=["pad", "cut", "mono"])
def test_encode_muxes_aac_as_long_as_the_video(tmp_path: Path, seconds: float, channels: int) -> None:
    path = tmp_path / "out.mp4"
    encode_mp4(_frames(80), path, fps=16, audio=_clip(seconds, channels))
    info = probe(path)
    assert (info.frames, info.fps, info.codec) == (80, 16.0, "h264")
    assert info.has_audio is True
    assert (info.audio_codec, info.audio_channels, info.audio_sample_rate) == ("aac", 2, SAMPLE_RATE)
    assert info.audio_duration == pytest.approx(5.0, abs=0.05)
    assert info.duration == pytest.approx(5.0, abs=0.05)
    assert info.moov_before_mdat is True


def test_encode_interleaves_audio_with_video(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    encode_mp4(_frames(48), path, fps=16, audio=_clip(3.0))
    with av.open(str(path)) as container:
        packets = sorted((p.pos, p.stream.type) for p in container.demux() if p.pos is not None and p.pos >= 0)
    order = [kind for _, kind in packets]
    half = len(order) // 2
    assert "audio" in order[:half] and "video" in order[half:]  # not one track after the other


def test_encode_keeps_the_sound(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    encode_mp4(_frames(48), path, fps=16, audio=AudioClip(tone(3.0, SAMPLE_RATE, 2, hz=1000.0), SAMPLE_RATE))
    with av.open(str(path)) as container:
        decoded = np.concatenate([f.to_ndarray() for f in container.decode(audio=0)], axis=1)
    assert _peak_hz(decoded[0], SAMPLE_RATE) == pytest.approx(1000.0, abs=2.0)


def test_encode_without_audio_has_none(tmp_path: Path) -> None:
    path = tmp_path / "out.mp4"
    encode_mp4(_frames(16), path, fps=16)
    info = probe(path)
    assert (info.has_audio, info.audio_codec, info.audio_duration) == (False, None, None)


def test_encode_checks_the_audio_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def lost_audio(path: Path) -> object:
        return dataclasses.replace(probe(path), has_audio=False)

    monkeypatch.setattr(encode_module, "probe", lost_audio)
    with pytest.raises(EncodeError, match="no audio stream"):
        encode_mp4(_frames(32), tmp_path / "out.mp4", fps=16, audio=_clip(2.0))
    assert list(tmp_path.iterdir()) == []


def test_encode_checks_the_audio_duration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def short_audio(path: Path) -> object:
        return dataclasses.replace(probe(path), audio_duration=1.5)

    monkeypatch.setattr(encode_module, "probe", short_audio)
    with pytest.raises(EncodeError, match=r"audio lasts 1\.5 s, expected 2\.000 s"):
        encode_mp4(_frames(32), tmp_path / "out.mp4", fps=16, audio=_clip(2.0))


@pytest.mark.parametrize(
    "clip",
    [AudioClip(np.zeros((2, 1000), np.float32), 37_800), AudioClip(np.zeros((6, 1000), np.float32), SAMPLE_RATE)],
    ids=["rate", "channels"],
)
def test_encode_rejects_audio_aac_cannot_carry(tmp_path: Path, clip: AudioClip) -> None:
    with pytest.raises(ValueError):
        encode_mp4(_frames(16), tmp_path / "out.mp4", fps=16, audio=clip)
    assert list(tmp_path.iterdir()) == []
