"""The editor's rules for a dub's lines, as pure functions beside the contract's (rules.py).

A line must lie within one on-screen stretch of its person that lasts at least 2 s (the engine
lip-syncs a face only where it sees it, and for at least 2 s); one person says one line at a
time; a line lasts at most 60 s (the engine's longest audio). A line shorter than 2 s is fine:
the planner adds silence around it, and a note says so.

Violations have the shape of the contract's (`RuleViolation`: code, field, message, fix) plus
`fixed`: the same line changed so that every rule passes at once, found by trying the nearest
places and checked by running the rules again; or None, and then `fix` is one sentence saying
what to change. Lines of different people may overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from projects.engines import limits
from projects.engines.rules import ILLEGAL_VALUE, RuleViolation, seconds
from projects.engines.timeline import Line, Person, Span, overlap_ms
from projects.mediakit.wording import clock

MAX_LINE_MS = limits.AUDIO.max_duration_ms
MIN_ON_SCREEN_MS = limits.MIN_FACE_OVERLAP_MS
PAD_NOTE_BELOW_MS = limits.MIN_CROP_MS


@dataclass(frozen=True)
class LineViolation(RuleViolation):
    """A broken line rule; `fixed` is the line with every rule passing, when one exists."""

    fixed: Line | None = None


@dataclass(frozen=True)
class LineCheck:
    violations: tuple[LineViolation, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.violations


def check_lines(lines: Sequence[Line], people: Iterable[Person]) -> dict[int | str, LineCheck]:
    """Every line's check, by line id."""
    people = list(people)
    return {line.line_id: check_line(line, people, lines) for line in lines}


def check_line(line: Line, people: Iterable[Person], lines: Iterable[Line]) -> LineCheck:
    """The rules one line breaks among `lines` (it may be one of them), with their fixes."""
    person = next((p for p in people if p.person_id == line.person_id), None)
    others = [o for o in lines if o.person_id == line.person_id and o.line_id != line.line_id]
    notes = _notes(line)
    if line.duration_ms <= 0:
        return LineCheck(
            (
                LineViolation(
                    ILLEGAL_VALUE,
                    "crop",
                    "This line has no sound: its crop ends where it starts, or before.",
                    "Choose an end later than its start.",
                ),
            ),
            notes,
        )
    broken = _broken(line, person, others)
    if not broken:
        return LineCheck((), notes)
    fixed = _fixed(line, person, others)
    advice = _fix_words(line, fixed) if fixed else _no_fix_words(line, person, others)
    return LineCheck(
        tuple(
            LineViolation(ILLEGAL_VALUE, field, message, advice, fixed) for field, message in broken
        ),
        notes,
    )


def is_valid(line: Line, people: Iterable[Person], lines: Iterable[Line]) -> bool:
    return check_line(line, people, lines).ok


# --- the rules ------------------------------------------------------------------------------


def _broken(line: Line, person: Person | None, others: list[Line]) -> list[tuple[str, str]]:
    """(field, message) for each rule the line breaks, in the order a person would fix them."""
    found = []
    if line.duration_ms > MAX_LINE_MS:
        found.append(
            (
                "crop",
                f"This line lasts {seconds(line.duration_ms)}; the engine takes at most "
                f"{seconds(MAX_LINE_MS)} of speech at a time.",
            )
        )
    off_screen = _off_screen_message(line, person)
    if off_screen:
        found.append(("at", off_screen))
    for other in sorted(others, key=lambda o: o.at_ms):
        shared = overlap_ms((line.at_ms, line.end_ms), (other.at_ms, other.end_ms))
        if shared > 0:
            found.append(
                (
                    "at",
                    f"This line overlaps person {line.person_id}'s line at "
                    f"{clock(other.at_ms)} by {seconds(shared)}; a person says one line at "
                    "a time.",
                )
            )
    return found


def _off_screen_message(line: Line, person: Person | None) -> str:
    if person is None or not person.stretches:
        return f"Person {line.person_id} is not on screen anywhere in this video."
    stretch = person.stretch_holding(line.at_ms, line.end_ms)
    if stretch is None:
        return (
            f"This line plays from {clock(line.at_ms)} to {clock(line.end_ms)}, but person "
            f"{line.person_id} is not on screen all that time."
        )
    start, end = stretch
    if end - start < MIN_ON_SCREEN_MS:
        return (
            f"Person {line.person_id} is on screen here only from {clock(start)} to "
            f"{clock(end)} ({seconds(end - start)}); the engine needs to see a face for at "
            f"least {seconds(MIN_ON_SCREEN_MS)}."
        )
    return ""


def _notes(line: Line) -> tuple[str, ...]:
    if 0 < line.duration_ms < PAD_NOTE_BELOW_MS:
        return (
            f"This line lasts {seconds(line.duration_ms)}, less than the engine's "
            f"{seconds(PAD_NOTE_BELOW_MS)}: silence is added around it when it is sent.",
        )
    return ()


# --- fixes ----------------------------------------------------------------------------------


def _fixed(line: Line, person: Person | None, others: list[Line]) -> Line | None:
    """The nearest valid line: its first 60 s if longer, moved to the closest free place."""
    if person is None:
        return None
    candidate = line
    if line.duration_ms > MAX_LINE_MS:
        candidate = replace(line, crop_end_ms=line.crop_start_ms + MAX_LINE_MS)
    at = _nearest_free_start(candidate, person, others)
    if at is None:
        return None
    fixed = replace(candidate, at_ms=at)
    # The fix is offered only if the rules agree with it.
    return fixed if not _broken(fixed, person, others) else None


def _nearest_free_start(line: Line, person: Person, others: list[Line]) -> int | None:
    best: int | None = None
    for free_start, free_end in _free_spans(person, others):
        if free_end - free_start < line.duration_ms:
            continue
        at = min(max(line.at_ms, free_start), free_end - line.duration_ms)
        if best is None or abs(at - line.at_ms) < abs(best - line.at_ms):
            best = at
    return best


def _free_spans(person: Person, others: list[Line]) -> list[Span]:
    """The person's stretches of 2 s or more, less the times their other lines play."""
    taken = sorted((o.at_ms, o.end_ms) for o in others if o.duration_ms > 0)
    free = []
    for start, end in person.stretches:
        if end - start < MIN_ON_SCREEN_MS:
            continue
        cursor = start
        for taken_start, taken_end in taken:
            if taken_end <= cursor or taken_start >= end:
                continue
            if taken_start > cursor:
                free.append((cursor, taken_start))
            cursor = max(cursor, taken_end)
        if cursor < end:
            free.append((cursor, end))
    return free


def _fix_words(line: Line, fixed: Line) -> str:
    shift = fixed.at_ms - line.at_ms
    move = f"move it {seconds(abs(shift))} {'later' if shift > 0 else 'earlier'}"
    if fixed.duration_ms != line.duration_ms:
        keep = f"Keep only its first {seconds(fixed.duration_ms)}"
        return f"{keep} and {move}." if shift else f"{keep}."
    return f"{move[0].upper()}{move[1:]}."


def _no_fix_words(line: Line, person: Person | None, others: list[Line]) -> str:
    if person is None or not any(
        end - start >= MIN_ON_SCREEN_MS for start, end in person.stretches
    ):
        return "Give the line to a person who is on screen, or remove it."
    longest = max((end - start for start, end in _free_spans(person, others)), default=0)
    if longest < MIN_ON_SCREEN_MS:
        return (
            f"Person {line.person_id}'s time on screen is taken by their other lines: "
            "remove one of them, or give this line to someone else."
        )
    return (
        f"Person {line.person_id} is on screen, free of their other lines, for at most "
        f"{seconds(longest)} at a time: shorten the line to that, or give it to someone else."
    )
