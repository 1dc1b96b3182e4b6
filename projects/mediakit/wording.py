"""Durations, sizes and format names written the way people read them in messages."""

from __future__ import annotations


def clock(ms: int) -> str:
    """0:05, 1:00, 0:02.5, 1:02:03: a position on a timeline, tenths only when present."""
    ms = max(0, ms)
    hours, rest = divmod(ms // 1000, 3600)
    minutes, whole_seconds = divmod(rest, 60)
    tenths = ms % 1000 // 100
    text = f"{minutes:02d}:{whole_seconds:02d}" if hours else f"{minutes}:{whole_seconds:02d}"
    if hours:
        text = f"{hours}:{text}"
    return f"{text}.{tenths}" if tenths else text


def seconds(ms: int, *, unlike: int | None = None) -> str:
    """'74 s', '60.4 s': a length, with a decimal only when it matters.

    Given `unlike` (a limit), enough decimals are kept that the two never read the same:
    60.01 s against a 60 s limit, not "60 s".
    """
    text = _seconds_with(ms, 1)
    if unlike is not None and ms != unlike and text == _seconds_with(unlike, 1):
        text = _seconds_with(ms, 3)
    return text


def _seconds_with(ms: int, decimals: int) -> str:
    number = f"{ms / 1000:.{decimals}f}".rstrip("0").rstrip(".")
    return f"{number} s"


def megabytes(size: int) -> str:
    """'5 MB', '12.3 MB', '40 KB' (binary units, as the limits are written)."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    value = size / (1024 * 1024)
    if value >= 10 or value == int(value):
        return f"{round(value)} MB"
    return f"{value:.1f} MB"


def length(ms: int) -> str:
    """A duration for a sentence: '0.8 s' under a minute, '10:00:00' beyond."""
    return seconds(ms) if ms < 60_000 else clock(ms)


def frame_size(width: int, height: int) -> str:
    """'1920 x 1080' written with the multiplication sign people expect on screen."""
    return f"{width}\N{MULTIPLICATION SIGN}{height}"


CODEC_LABELS = {
    "h264": "H.264",
    "hevc": "HEVC (H.265)",
    "vp8": "VP8",
    "vp9": "VP9",
    "av1": "AV1",
    "mpeg4": "MPEG-4",
    "prores": "ProRes",
    "aac": "AAC",
    "mp3": "MP3",
    "opus": "Opus",
    "vorbis": "Vorbis",
    "flac": "FLAC",
}


def codec_label(name: str | None) -> str:
    """'H.264', 'PCM', 'VP9': the name a video editor's export menu uses."""
    if not name:
        return "unknown"
    if name.startswith("pcm_"):
        return "PCM"
    return CODEC_LABELS.get(name, name.upper())


def container_label(name: str) -> str:
    """'MP4', 'WebM', 'Matroska (MKV)'."""
    return {"webm": "WebM", "matroska": "Matroska (MKV)"}.get(name, name.upper())
