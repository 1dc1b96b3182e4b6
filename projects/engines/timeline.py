"""A dub's timeline as plain data: the source video, the people on it, and their lines.

Shared by the line rules (what the editor checks) and the planner (what it sends to the
engine). Times are whole milliseconds from the video's first frame; an on-screen stretch or a
line covers [start, end). Nothing here imports Django.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

Span = tuple[int, int]  # [start_ms, end_ms)


@dataclass(frozen=True)
class Source:
    """The video being dubbed, with optional hints of good places to cut it.

    `key` names the video's content (e.g. its sha256): it goes into every job's input hash.
    `silences` are stretches of its soundtrack without sound, `shot_changes` the times at
    which one shot cuts to another; both only guide where windows begin and end.
    """

    duration_ms: int
    fps: Fraction
    key: str = ""
    silences: tuple[Span, ...] = ()
    shot_changes: tuple[int, ...] = ()

    @property
    def frame_count(self) -> int:
        return max(0, round(self.duration_ms * self.fps / 1000))

    def frame_time(self, frame: int) -> Fraction:
        """When frame number `frame` comes up, in exact milliseconds."""
        return Fraction(frame * 1000) / self.fps

    def frame_ms(self, frame: int) -> int:
        return round(self.frame_time(frame))

    def frame_at_or_after(self, ms: float) -> int:
        """The first frame boundary at or after `ms`."""
        return math.ceil(Fraction(ms) * self.fps / 1000)

    def frame_at_or_before(self, ms: float) -> int:
        """The last frame boundary at or before `ms`."""
        return math.floor(Fraction(ms) * self.fps / 1000)


@dataclass(frozen=True)
class Person:
    """Someone seen in the video: `stretches` are their continuous on-screen times, in order.

    A stretch is one face track of the engine: the person leaving the frame for more than a
    second, or a cut to another shot, starts a new one.
    """

    person_id: int
    stretches: tuple[Span, ...]

    def stretch_holding(self, start_ms: int, end_ms: int) -> Span | None:
        """The stretch that holds all of [start_ms, end_ms), if one does."""
        for stretch in self.stretches:
            if stretch[0] <= start_ms and end_ms <= stretch[1]:
                return stretch
        return None


@dataclass(frozen=True)
class Line:
    """A line of speech: `person_id` says [crop_start_ms, crop_end_ms) of an audio file,
    starting at `at_ms` on the video, at `volume` (0-2).

    `audio_key` names the audio file's content (e.g. its sha256); the planner hashes it.
    """

    line_id: int | str
    person_id: int
    at_ms: int
    crop_start_ms: int
    crop_end_ms: int
    volume: float = 1.0
    audio_key: str = ""

    @property
    def duration_ms(self) -> int:
        return self.crop_end_ms - self.crop_start_ms

    @property
    def end_ms(self) -> int:
        """Where the line stops playing on the video."""
        return self.at_ms + self.duration_ms


def overlap_ms(a: Span, b: Span) -> int:
    return max(0, min(a[1], b[1]) - max(a[0], b[0]))
