"""What a probed container is called on disk and on the wire: its file extension and content
type. The probe names the container (probe.MediaInfo.container); nothing here looks at the
name or the type the uploader's browser gave."""

from __future__ import annotations

from typing import NamedTuple

UNKNOWN_EXTENSION = "bin"
UNKNOWN_CONTENT_TYPE = "application/octet-stream"


class Format(NamedTuple):
    extension: str
    video_type: str  # for a file with pictures
    audio_type: str  # for sound alone


FORMATS: dict[str, Format] = {
    "mp4": Format("mp4", "video/mp4", "audio/mp4"),
    "m4a": Format("m4a", "video/mp4", "audio/mp4"),
    "mov": Format("mov", "video/quicktime", "audio/mp4"),
    "3gp": Format("3gp", "video/3gpp", "audio/3gpp"),
    "webm": Format("webm", "video/webm", "audio/webm"),
    "matroska": Format("mkv", "video/x-matroska", "audio/x-matroska"),
    "avi": Format("avi", "video/x-msvideo", "video/x-msvideo"),
    "ogg": Format("ogg", "video/ogg", "audio/ogg"),
    "mp3": Format("mp3", "audio/mpeg", "audio/mpeg"),
    "wav": Format("wav", "audio/wav", "audio/wav"),
    "aac": Format("aac", "audio/aac", "audio/aac"),
    "flac": Format("flac", "audio/flac", "audio/flac"),
}


def file_extension(container: str | None) -> str:
    found = FORMATS.get(container or "")
    return found.extension if found else UNKNOWN_EXTENSION


def content_type(container: str | None, kind: str | None) -> str:
    """`kind` is the probe's "video" or "audio"."""
    found = FORMATS.get(container or "")
    if found is None:
        return UNKNOWN_CONTENT_TYPE
    return found.video_type if kind == "video" else found.audio_type
