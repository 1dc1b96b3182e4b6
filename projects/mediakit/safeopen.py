"""Opening a media file so that FFmpeg reads that file and nothing else.

FFmpeg's demuxers can follow references: an HLS playlist or an ffconcat list opens the files it
names, a MOV can point at external data ("drefs"), and the `concat:`/`subfile:` pseudo-protocols
read other paths. A file from a user must never make us read another file on our disk, so:

* only the `file` protocol is allowed (no http, concat:, subfile:, data: ...);
* only the demuxers named in `ALLOWED_DEMUXERS` may be used; FFmpeg checks this list right after
  detection and before the demuxer reads its header, so an HLS or ffconcat file is refused
  before it can open anything it references;
* the demuxer is chosen from the file's own first bytes when they are unambiguous, so detection
  by name never enters into it;
* MOV external references and absolute paths in them are switched off explicitly.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.container

# Demuxers the engine's formats come in (mov covers mp4/m4a/3gp) ...
ENGINE_DEMUXERS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "mp3", "wav", "aac")
# ... and those we also read, only to convert them ("fix it for me").
CONVERTIBLE_DEMUXERS = ("matroska", "webm", "avi", "ogg", "flac")
ALLOWED_DEMUXERS = ENGINE_DEMUXERS + CONVERTIBLE_DEMUXERS

# Bounded so a hostile file cannot make detection read or analyse for long.
PROBE_SIZE_BYTES = 10 * 1024 * 1024
ANALYZE_DURATION_US = 10_000_000

SAFE_OPTIONS: dict[str, str] = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(ALLOWED_DEMUXERS),
    "enable_drefs": "0",
    "use_absolute_path": "0",
    "probesize": str(PROBE_SIZE_BYTES),
    "analyzeduration": str(ANALYZE_DURATION_US),
}

MIN_SNIFF_BYTES = 16


def sniff_demuxer(head: bytes) -> str | None:
    """The demuxer a file's first bytes call for, or None to let FFmpeg detect among the allowed.

    MP3 without an ID3 tag and raw ADTS AAC start with frame sync words that overlap, so those
    are left to FFmpeg's detection, restricted to the allow-list.
    """
    if len(head) < MIN_SNIFF_BYTES:
        return None
    if head[4:8] == b"ftyp" or head[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"ID3":
        return "mp3"
    return None


def read_head(path: Path, size: int = 64) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def open_input(path: Path) -> av.container.InputContainer:
    """Open `path` for reading with the restrictions above; raises av errors on refusal."""
    forced = sniff_demuxer(read_head(path))
    return av.open(str(path), mode="r", format=forced, options=dict(SAFE_OPTIONS))


def first_video_stream(container: av.container.InputContainer) -> av.VideoStream | None:
    """The first real picture track: cover art in an MP3 or M4A is a 'video' stream too."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def first_audio_stream(container: av.container.InputContainer) -> av.AudioStream | None:
    return container.streams.audio[0] if container.streams.audio else None
