"""Getting the caller's media: download a URL or decode Base64, then read what it really is.

The simulator stands in for an internet service, so it fetches from any address, loopback
included. It reads the container itself (PyAV) because the contract's format rule is about
the file's real format (mp3/wav/m4a/aac, mp4/mov), which a generic probe does not report.
"""

from __future__ import annotations

import base64
import binascii
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import av

from projects.engines.simulator.errors import ApiError

FETCH_TIMEOUT_S = 30
_CHUNK = 64 * 1024
# PyAV's demuxer names -> the contract's format words.
_AUDIO_FORMATS = {"mp3": "mp3", "wav": "wav", "aac": "aac", "mov,mp4,m4a,3gp,3g2,mj2": "m4a"}
_MP4_FAMILY = "mov,mp4,m4a,3gp,3g2,mj2"


@dataclass(frozen=True)
class MediaFacts:
    format: str  # the contract's word (mp4, mov, mp3, wav, m4a, aac) or the demuxer's name
    size_bytes: int
    duration_ms: int
    width: int = 0
    height: int = 0
    has_video: bool = False
    has_audio: bool = False


def is_url(value: str) -> bool:
    return urllib.parse.urlsplit(value).scheme in ("http", "https")


def fetch(url: str, out_path: Path, *, max_bytes: int, field: str) -> int:
    """Download `url` to `out_path`; stop (1201) past `max_bytes`. Returns the size."""
    request = urllib.request.Request(url, headers={"User-Agent": "kling-simulator"})  # noqa: S310
    size = 0
    try:
        with (
            urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response,  # noqa: S310
            open(out_path, "wb") as out,
        ):
            while chunk := response.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ApiError(
                        1201, f"{field}: the file is larger than {max_bytes // 2**20} MB."
                    )
                out.write(chunk)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ApiError(1201, f"{field}: cannot download {url!r} ({error}).") from error
    return size


def decode_base64(data: str, out_path: Path, *, max_bytes: int, field: str) -> int:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as error:
        raise ApiError(1201, f"{field} is neither a URL nor valid Base64 audio.") from error
    if len(raw) > max_bytes:
        raise ApiError(1201, f"{field}: the audio is larger than {max_bytes // 2**20} MB.")
    out_path.write_bytes(raw)
    return len(raw)


def inspect(path: Path, *, field: str) -> MediaFacts:
    """What the file really is; 1201 when it is no media at all."""
    try:
        with av.open(os.fspath(path)) as container:
            return _facts(container, path)
    except (av.error.FFmpegError, OSError, ValueError) as error:
        raise ApiError(1201, f"{field}: the file is not a readable audio or video.") from error


def _facts(container: av.container.InputContainer, path: Path) -> MediaFacts:
    video = container.streams.video[0] if container.streams.video else None
    audio = container.streams.audio[0] if container.streams.audio else None
    name = container.format.name
    word = _video_word(name, path) if video is not None else _AUDIO_FORMATS.get(name, name)
    duration_ms = _duration_ms(container)
    return MediaFacts(
        format=word,
        size_bytes=path.stat().st_size,
        duration_ms=duration_ms,
        width=video.codec_context.width if video else 0,
        height=video.codec_context.height if video else 0,
        has_video=video is not None,
        has_audio=audio is not None,
    )


def _video_word(demuxer: str, path: Path) -> str:
    if demuxer != _MP4_FAMILY:
        return demuxer
    # The MP4 demuxer reads both; QuickTime files say so in their major brand.
    with path.open("rb") as head:
        brand = head.read(12)[8:12]
    return "mov" if brand == b"qt  " else "mp4"


def _duration_ms(container: av.container.InputContainer) -> int:
    if container.duration:
        return int(container.duration * 1000 // av.time_base)
    longest = 0.0
    for stream in container.streams:
        if stream.duration and stream.time_base:
            longest = max(longest, float(stream.duration * stream.time_base))
    return int(longest * 1000)
