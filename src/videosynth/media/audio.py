"""``input.audio_url``: download it (bounded in size and time), decode it (wav or mp3 only), fit it to the video.

Every failure a client can cause is raised as a domain error whose message is safe to show: it names the URL's
host and what went wrong, never the full URL (its query may carry a signature) and never library internals. The
underlying exception stays chained (``raise … from``) for the server's own logs.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import numpy as np
import numpy.typing as npt

from videosynth.domain.errors import InputDownloadFailed, UnsupportedFileFormat

SAMPLE_RATE = 48_000  # every clip is resampled to this: AAC's native rate for video, so one code path for all
CHANNELS = 2  # stereo, like DashScope's own output (AAC stereo, api-contract §1.10)
MAX_BYTES = 15 * 2**20  # api-contract §1.3/§1.4: ≤ 15 MB
MIN_SECONDS, MAX_SECONDS = 2.0, 30.0  # api-contract §1.4 (wan2.7); the legacy models document 3 s
MAX_REDIRECTS = 5
# A "30 s" file is rarely exactly 30 s: encoders round to whole frames (an mp3 frame is ~26 ms) and some add
# padding. Accept this much either side of the limits rather than reject a file the client believes is valid.
_DURATION_SLACK_S = 0.1
_STALL_S = 10.0  # longest single network wait; see fetch_audio on how the total time is bounded
_FADE_S = 0.01  # fade-out where a clip is cut, so it does not end on a click
_USER_AGENT = "videosynth-audio-fetch/1"


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

    Only http(s), also on every redirect hop (followed here, at most ``max_redirects``). A Content-Length over
    ``max_bytes`` is refused before the body is read, and the body is cut off as soon as it passes ``max_bytes``
    (servers may omit the length; h11 never reads past a declared one). The download is given ``timeout_s`` in all:
    the deadline is checked after every chunk received, so a server that trickles bytes cannot stretch it, and
    each network wait (connect, one read) is capped at the time left when the request went out and at
    ``_STALL_S``, so a silent server is given up on too. httpx cannot change a read timeout mid-body, so the worst
    case is the deadline plus one stalled read (≤ ``_STALL_S``); DNS lookups are not bounded by httpx at all.
    ``dest`` appears only once the whole body has arrived.

    SSRF: the URL comes from an API client and is fetched from inside the deployment, so it could point at
    internal services (cloud metadata at 169.254.169.254, admin ports on loopback). ``allow_private=False``
    refuses hosts that resolve to any non-global address, checked on every hop. It defaults to True because a
    self-hosted service often serves audio from its own LAN (and the tests use loopback); a deployment reachable
    from untrusted clients should pass False. The check resolves the name separately from the connection, so DNS
    rebinding can slip past it; a proxy that enforces egress rules is the complete answer.
    """
    target = _parse_http_url(url)
    host = target.host
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.partial")
    deadline = time.monotonic() + timeout_s
    try:
        # trust_env stays on so that operator-configured proxies (HTTPS_PROXY) are honoured.
        with httpx.Client(follow_redirects=False, headers=_REQUEST_HEADERS) as client:
            response = _follow(client, target, deadline, max_redirects, allow_private)
            host = response.url.host
            try:
                _check_status(response)
                _check_length(response, max_bytes)
                _save(response, tmp, max_bytes, deadline, timeout_s)
            finally:
                response.close()
        os.replace(tmp, dest)
    except httpx.TimeoutException as exc:
        raise InputDownloadFailed(f"Downloading audio_url from {host} timed out after {timeout_s:g} s.") from exc
    except httpx.ConnectError as exc:
        raise InputDownloadFailed(f"Could not connect to {host} to download audio_url.") from exc
    except httpx.HTTPError as exc:
        raise InputDownloadFailed(f"Downloading audio_url from {host} failed: the connection broke off.") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return dest


# Ask for the bytes as stored: then Content-Length is the real size, and nothing is inflated on the way in.
_REQUEST_HEADERS = {"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"}


def _parse_http_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InputDownloadFailed("audio_url is not a valid URL.") from exc
    if parsed.scheme not in ("http", "https"):
        shown = f"'{parsed.scheme}'" if parsed.scheme else "none"
        raise InputDownloadFailed(f"audio_url must be an http(s) URL (scheme {shown} is not supported).")
    if not parsed.host:
        raise InputDownloadFailed("audio_url has no host.")
    return parsed


def _follow(
    client: httpx.Client, url: httpx.URL, deadline: float, max_redirects: int, allow_private: bool
) -> httpx.Response:
    """The first non-redirect response, opened for streaming. Redirects are followed here rather than by httpx
    so that every hop gets the scheme and address checks and the remaining share of the deadline."""
    for _ in range(max_redirects + 1):
        if not allow_private:
            _refuse_private(url)
        request = client.build_request("GET", url, timeout=_timeout(deadline))
        response = client.send(request, stream=True)
        location = response.headers.get("location")
        if not (response.is_redirect and location):
            return response
        response.close()
        try:
            url = _parse_http_url(str(url.join(location)))
        except (InputDownloadFailed, httpx.InvalidURL) as exc:
            raise InputDownloadFailed(f"audio_url at {url.host} redirected to an unsupported location.") from exc
    raise InputDownloadFailed(f"audio_url at {url.host} redirected more than {max_redirects} times.")


def _timeout(deadline: float) -> httpx.Timeout:
    left = deadline - time.monotonic()
    if left <= 0:
        raise httpx.TimeoutException("deadline passed")
    return httpx.Timeout(min(left, _STALL_S))


def _refuse_private(url: httpx.URL) -> None:
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(url.host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise InputDownloadFailed(f"Could not resolve {url.host} to download audio_url.") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # drop an IPv6 zone id
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not address.is_global:
            raise InputDownloadFailed(f"audio_url host {url.host} is a private or local address; not fetched.")


def _check_status(response: httpx.Response) -> None:
    if not response.is_success:
        raise InputDownloadFailed(
            f"Downloading audio_url from {response.url.host} failed: the server answered HTTP {response.status_code}."
        )


def _check_length(response: httpx.Response, max_bytes: int) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise InputDownloadFailed(_too_large(response, max_bytes))


def _save(response: httpx.Response, tmp: Path, max_bytes: int, deadline: float, timeout_s: float) -> None:
    received = 0
    with open(tmp, "wb") as out:
        for chunk in response.iter_bytes():  # no chunk_size: httpx would buffer up to it before the checks run
            received += len(chunk)
            if received > max_bytes:
                raise InputDownloadFailed(_too_large(response, max_bytes))
            if time.monotonic() > deadline:  # a server trickling bytes never trips the per-read timeout
                raise InputDownloadFailed(
                    f"Downloading audio_url from {response.url.host} timed out after {timeout_s:g} s."
                )
            out.write(chunk)


def _too_large(response: httpx.Response, max_bytes: int) -> str:
    return f"The audio file at {response.url.host} is larger than the {_megabytes(max_bytes)} limit."


def _megabytes(size: int) -> str:
    return f"{size / 2**20:g} MB" if size >= 2**20 else f"{size} bytes"


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
