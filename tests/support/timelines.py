"""Timeline lines that break the rules in every combination, for the "Do it for me" checks.

The same walk feeds the server's rules (projects/engines/rules.py) and the browser's
(static/js/rules.js), so both are held to one list of cases.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import product

from projects.engines import rules

# Clips from too short to long, videos from shorter than the rules allow to long, and faces on
# screen too briefly, at the start, in the middle, at the end and running past the video's end.
AUDIO_MS = (1_000, 2_000, 2_700, 4_000, 10_000)
VIDEO_MS = (1_500, 2_500, 6_000, 8_000)
FACE_WINDOWS_MS = (
    (0, 1_500),
    (0, 2_500),
    (2_000, 6_000),
    (1_000, 3_000),
    (5_000, 8_000),
    (7_000, 9_000),
)
STARTS_MS = (0, 500, 1_500, 3_500, 6_000, 9_500, 11_000)
ENDS_MS = (0, 1_000, 2_000, 2_500, 4_000, 5_000, 7_500, 12_000)
INSERTS_MS = (0, 700, 1_900, 3_000, 4_400, 5_500, 7_000, 9_000)

# The sentences that start each rule's message, to name the rules a line breaks.
RULE_OPENINGS = {
    "The audio clip must last at least": "crop too short",
    "The clip ends at": "crop past the audio's end",
    "The clip would end at": "past the video's end",
    "The clip must overlap the face's window": "too little overlap",
}


def line_walk() -> Iterator[dict[str, int]]:
    """Every combination of the values above, as keyword arguments of the timing rules."""
    for audio, video, (face_start, face_end), start, end, insert in product(
        AUDIO_MS, VIDEO_MS, FACE_WINDOWS_MS, STARTS_MS, ENDS_MS, INSERTS_MS
    ):
        yield {
            "audio_ms": audio,
            "video_ms": video,
            "face_start_ms": face_start,
            "face_end_ms": face_end,
            "sound_start_ms": start,
            "sound_end_ms": end,
            "sound_insert_ms": insert,
        }


def broken_rules(line: dict[str, int]) -> frozenset[str]:
    """The names of the timing rules `line` breaks, from the server's rules."""
    names = set()
    for violation in rules.check_advanced_timing(**line):
        names.update(
            name for opening, name in RULE_OPENINGS.items() if violation.message.startswith(opening)
        )
    return frozenset(names)


def fixed(line: dict[str, int], fix: rules.TimingFix) -> dict[str, int]:
    """`line` with the fix's crop and insert time."""
    return {
        **line,
        "sound_start_ms": fix.sound_start_ms,
        "sound_end_ms": fix.sound_end_ms,
        "sound_insert_ms": fix.sound_insert_ms,
    }


def some_line_keeps_the_rules(audio_ms: int, video_ms: int, face: tuple[int, int]) -> bool:
    """Whether any crop and insert time, on a 100 ms grid, keeps every timing rule.

    Only the crop's length matters for placing it, so crops start at 0.
    """
    for length in range(0, audio_ms + 1, 100):
        for insert in range(0, video_ms + 1, 100):
            line = {
                "audio_ms": audio_ms,
                "video_ms": video_ms,
                "face_start_ms": face[0],
                "face_end_ms": face[1],
                "sound_start_ms": 0,
                "sound_end_ms": length,
                "sound_insert_ms": insert,
            }
            if not rules.check_advanced_timing(**line):
                return True
    return False
