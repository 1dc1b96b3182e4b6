"""Captions as WebVTT: read a .vtt someone attached to their speech, place cues on a video's
timeline, write the result's captions. Plain Python; every refusal in words a person can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_VTT_BYTES = 256 * 1024
MAX_CUES = 2_000
TIMING = re.compile(
    r"^(?P<start>(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3})\s+-->\s+(?P<end>(?:\d{1,2}:)?\d{2}:\d{2}\.\d{3})"
    r"(?:\s+.*)?$"
)


class CaptionsError(ValueError):
    """A .vtt file we cannot use; the message says why in plain words."""


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    text: str


def parse_vtt(data: bytes) -> list[Cue]:
    """The cues of a WebVTT file; CaptionsError if it is not one we can use."""
    if len(data) > MAX_VTT_BYTES:
        raise CaptionsError("This captions file is larger than 256 KB; captions are much smaller.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CaptionsError(
            "This captions file is not plain UTF-8 text. Save it as WebVTT (.vtt) in UTF-8."
        ) from None
    blocks = re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n").strip())
    if not blocks or not blocks[0].startswith("WEBVTT"):
        raise CaptionsError(
            "This is not a WebVTT captions file: its first line must be “WEBVTT”. Export the "
            "captions as .vtt (not .srt or .txt) and try again."
        )
    cues = [cue for block in blocks[1:] if (cue := _cue(block)) is not None]
    if not cues:
        raise CaptionsError("This captions file has no captions in it (no timed lines).")
    if len(cues) > MAX_CUES:
        raise CaptionsError(f"This captions file has more than {MAX_CUES} captions.")
    return cues


def _cue(block: str) -> Cue | None:
    lines = block.split("\n")
    if lines[0].startswith(("NOTE", "STYLE", "REGION")):
        return None
    timing_at = next((i for i, line in enumerate(lines[:2]) if "-->" in line), None)
    if timing_at is None:
        raise CaptionsError(f"A caption has no times we can read: “{lines[0][:60]}”.")
    match = TIMING.match(lines[timing_at].strip())
    if match is None:
        raise CaptionsError(
            f"These caption times are not written as WebVTT wants (00:01.500 --> 00:03.000): "
            f"“{lines[timing_at][:60]}”."
        )
    start, end = _ms(match["start"]), _ms(match["end"])
    if end <= start:
        raise CaptionsError(f"A caption ends before it starts: “{lines[timing_at][:60]}”.")
    words = "\n".join(line for line in lines[timing_at + 1 :] if line.strip())
    return Cue(start, end, words) if words else None


def _ms(stamp: str) -> int:
    parts = stamp.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[0]) if len(parts) == 3 else 0
    return round(((hours * 60 + minutes) * 60 + seconds) * 1000)


def placed(cues: list[Cue], *, crop_start_ms: int, crop_end_ms: int, at_ms: int) -> list[Cue]:
    """The cues of the part [crop_start, crop_end) of a clip placed at `at_ms` on a video."""
    moved = []
    for cue in cues:
        start, end = max(cue.start_ms, crop_start_ms), min(cue.end_ms, crop_end_ms)
        if end > start:
            moved.append(Cue(at_ms + start - crop_start_ms, at_ms + end - crop_start_ms, cue.text))
    return moved


def write_vtt(cues: list[Cue]) -> str:
    lines = ["WEBVTT", ""]
    for cue in cues:
        lines += [f"{_stamp(cue.start_ms)} --> {_stamp(cue.end_ms)}", cue.text, ""]
    return "\n".join(lines)


def _stamp(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"
