"""media/: fitting frames to the plan, the watermark, H.264 encoding and probing (design.md §4)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import ImageFont

from videosynth.domain.plan import GenerationPlan
from videosynth.media import encode as encode_module
from videosynth.media import watermark as watermark_module
from videosynth.media.encode import EncodeError, encode_mp4
from videosynth.media.finished import RejectedVideo, check_finished
from videosynth.media.frames import Frames, fit_frames, frames_digest, to_uint8
from videosynth.media.probe import moov_before_mdat, probe
from videosynth.media.watermark import watermark


def _plan(width: int, height: int, output_frames: int) -> GenerationPlan:
    return GenerationPlan(
        width=width,
        height=height,
        fps=16,
        output_frames=output_frames,
        gen_width=64,
        gen_height=48,
        gen_frames=17,
    )


def _numbered(count: int, height: int = 48, width: int = 64) -> Frames:
    """Frame i is filled with the value i, so frame order can be read back."""
    values = np.arange(count, dtype=np.uint8)[:, None, None, None]
    return np.broadcast_to(values, (count, height, width, 3)).copy()


def _gradient(count: int, height: int, width: int) -> Frames:
    """Smooth content that survives lossy coding almost unchanged, moving a little each frame."""
    y, x = np.mgrid[0:height, 0:width]
    red, green, blue = x * 255 // width, y * 255 // height, np.full_like(x, 128)
    return np.asarray([np.stack([(red + i) % 256, green, blue], -1) for i in range(count)], dtype=np.uint8)


# --------------------------------------------------------------------------------------------------- frames


def test_to_uint8_rounds_and_clips() -> None:
    values = np.array([-0.5, 0.0, 0.5 / 255, 0.499, 1.0, 1.5], dtype=np.float32).reshape(1, 1, 2, 3)
    assert to_uint8(values).ravel().tolist() == [0, 0, 0, 127, 255, 255]
    assert to_uint8(values).dtype == np.uint8


def test_frames_digest_is_the_sha256_of_the_frames_bytes_whatever_their_layout() -> None:
    import hashlib

    frames = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    assert frames_digest(frames) == hashlib.sha256(frames.tobytes()).hexdigest()
    strided = np.ascontiguousarray(frames.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)  # same values, other layout
    assert frames_digest(strided) == frames_digest(frames)
    changed = frames.copy()
    changed[1, 3, 5, 2] ^= 1  # one bit of one pixel
    assert frames_digest(changed) != frames_digest(frames)


def test_fit_frames_trims_to_output_frames() -> None:
    out = fit_frames(_numbered(17), _plan(64, 48, 16))
    assert out.shape == (16, 48, 64, 3)
    assert out[:, 0, 0, 0].tolist() == list(range(16))


def test_fit_frames_holds_last_frame_when_too_few() -> None:
    out = fit_frames(_numbered(5), _plan(64, 48, 8))
    assert out[:, 0, 0, 0].tolist() == [0, 1, 2, 3, 4, 4, 4, 4]


def test_fit_frames_keeps_frames_of_the_right_size_untouched() -> None:
    frames = _gradient(3, 48, 64)
    np.testing.assert_array_equal(fit_frames(frames, _plan(64, 48, 3)), frames)


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280), (65, 33), (32, 24)])
def test_fit_frames_resizes_to_exact_output_size(width: int, height: int) -> None:
    frames = _numbered(3) * 40
    out = fit_frames(frames, _plan(width, height, 3))
    assert out.shape == (3, height, width, 3)
    assert out.dtype == np.uint8
    # A flat frame stays flat at its own value: the filter neither shifts colour nor rings on flat content.
    assert [np.unique(frame).tolist() for frame in out] == [[0], [40], [80]]


@pytest.mark.parametrize("shape", [(0, 48, 64, 3), (3, 48, 64), (3, 48, 64, 4)])
def test_fit_frames_rejects_malformed_frames(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="expected frames shaped"):
        fit_frames(np.zeros(shape, dtype=np.uint8), _plan(64, 48, 3))


# ------------------------------------------------------------------------------------------------ watermark


def test_watermark_marks_bottom_right_of_every_frame_only() -> None:
    frames = _gradient(4, 720, 1280)
    out = watermark(frames)
    assert out.shape == frames.shape and out.dtype == np.uint8
    changed = np.any(out != frames, axis=(0, 3))  # (H, W): touched in any frame
    rows, cols = np.nonzero(changed)
    assert rows.min() > 720 * 0.8 and cols.min() > 1280 * 0.6  # bottom-right corner
    assert rows.max() < 720 and cols.max() < 1280
    assert not changed[: 720 // 2, : 1280 // 2].any()  # top-left untouched
    for before, after in zip(frames, out, strict=True):
        assert (before != after).any()
    assert np.array_equal(frames, _gradient(4, 720, 1280))  # the input is not modified


def test_watermark_is_visible_on_black_and_on_white() -> None:
    for value in (0, 255):
        frames = np.full((1, 144, 256, 3), value, dtype=np.uint8)
        region = watermark(frames)[0, 100:, 128:].astype(int)
        assert np.abs(region - value).max() > 100  # white fill shows on black, dark stroke shows on white


def test_watermark_works_on_tiny_frames() -> None:
    frames = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    assert watermark(frames).shape == frames.shape


def test_watermark_font_has_real_cjk_glyphs() -> None:
    # A font without CJK coverage draws every hanzi as the same "tofu" box.
    font = watermark_module._font(32)
    masks = {char: bytes(font.getmask(char)) for char in "生成"}
    assert masks["生"] != masks["成"]
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert font.getname()[0] == "Noto Sans CJK SC"


# ------------------------------------------------------------------------------------------ encode and probe


def test_encode_probe_roundtrip(tmp_path: Path) -> None:
    frames = _gradient(17, 48, 64)
    path = tmp_path / "out.mp4"
    written = encode_mp4(frames, path, fps=16)
    info = probe(path)
    assert written == info  # what the encoder checked is what the file holds
    assert info.seconds == 17 / 16
    assert (info.codec, info.pix_fmt) == ("h264", "yuv420p")
    assert (info.width, info.height, info.frames) == (64, 48, 17)
    assert info.fps == 16.0
    assert info.duration == pytest.approx(17 / 16)
    assert info.moov_before_mdat is True
    assert info.has_audio is False
    assert info.color_space == "bt709"
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    # Lossy, but close: the colour matrix used to encode matches the one the file is tagged with.
    assert np.abs(decoded.astype(int) - frames).mean() < 3


def test_encode_pads_odd_sizes_to_even(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    encode_mp4(_gradient(5, 63, 65), path, fps=24)
    info = probe(path)
    assert (info.width, info.height, info.frames, info.fps) == (66, 64, 5, 24.0)


def test_encode_failure_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(av.error.FFmpegError):
        encode_mp4(_gradient(3, 48, 64), tmp_path / "bad.mp4", fps=16, preset="no-such-preset")
    assert list(tmp_path.iterdir()) == []


def test_encode_checks_what_it_wrote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def short_probe(path: Path) -> object:
        return dataclasses.replace(probe(path), frames=4)  # as if a frame had been dropped

    monkeypatch.setattr(encode_module, "probe", short_probe)
    with pytest.raises(EncodeError, match="4 frames, expected 5"):
        encode_mp4(_gradient(5, 48, 64), tmp_path / "out.mp4", fps=16)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("frames", "fps"),
    [(np.zeros((3, 48, 64, 3), dtype=np.float32), 16), (np.zeros((3, 48, 64, 3), dtype=np.uint8), 0)],
)
def test_encode_rejects_bad_input(tmp_path: Path, frames: Frames, fps: int) -> None:
    with pytest.raises(ValueError):
        encode_mp4(frames, tmp_path / "x.mp4", fps=fps)


def test_moov_before_mdat_is_false_without_faststart(tmp_path: Path) -> None:
    path = tmp_path / "slow.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=16)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for rgb in _gradient(3, 48, 64):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    assert moov_before_mdat(path) is False
    assert probe(path).frames == 3


def _write(path: Path, container_format: str, codec: str, frames: Frames) -> Path:
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=16)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode(None))
    return path


# ---------------------------------------------------------------------------------------- a backend's finished video


def test_a_finished_h264_mp4_of_the_asked_size_is_accepted_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "upstream.mp4"
    encode_mp4(_gradient(20, 48, 64), path, fps=16)
    before = path.read_bytes()
    info = check_finished(path, 64, 48)
    assert (info.width, info.height, info.frames, info.seconds) == (64, 48, 20, 1.25)
    assert path.read_bytes() == before


def test_a_finished_video_of_another_size_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "upstream.mp4"
    encode_mp4(_gradient(4, 48, 64), path, fps=16)
    with pytest.raises(RejectedVideo, match="size 64x48, expected 1280x720"):
        check_finished(path, 1280, 720)


@pytest.mark.parametrize(
    ("container_format", "codec", "message"),
    [("mp4", "mpeg4", "codec mpeg4, expected h264"), ("matroska", "libx264", "not an mp4")],
)
def test_a_finished_video_that_is_not_h264_in_mp4_is_rejected(
    tmp_path: Path, container_format: str, codec: str, message: str
) -> None:
    path = _write(tmp_path / "upstream.bin", container_format, codec, _gradient(4, 48, 64))
    with pytest.raises(RejectedVideo, match=message):
        check_finished(path, 64, 48)


@pytest.mark.parametrize(
    "content", [b"<html>upstream error page</html>", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, b""]
)
def test_a_finished_file_that_is_no_video_is_rejected(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "upstream.mp4"
    path.write_bytes(content)
    with pytest.raises(RejectedVideo):
        check_finished(path, 64, 48)
