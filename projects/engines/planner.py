"""The dub planner: a video's lines turned into engine jobs that each meet the Kling contract.

A pure function: frozen dataclasses in (projects.engines.timeline), frozen dataclasses out, no
I/O, no Django. The video is cut into *windows* of 2-60 s (the engine's video limits) on frame
boundaries, never while a line plays. In each window, every on-screen stretch of a person who
speaks there becomes one *job*: that stretch's lines merged into one clip, with silence between
them, and around them when they last less than the engine's 2 s, so that the clip overlaps the
face by at least 2 s. Jobs of one window run one after the other, each on the previous one's
result (the engine changes one face per task). Windows where nobody speaks are not sent.

Which lines share a window is chosen by dynamic programming over the stretches of continuous
speech ("blocks"): the plan has the fewest jobs the rules allow, then the fewest seconds sent.
Window edges then move a little outwards, onto a shot change or a silence of the soundtrack when
one is near, to leave the engine some picture before and after the speech.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction

from projects.engines import limits, rules
from projects.engines.line_rules import check_lines
from projects.engines.timeline import Line, Person, Source, Span
from projects.mediakit.wording import clock

MAX_WINDOW_MS = limits.ADVANCED_VIDEO.max_duration_ms
MIN_WINDOW_MS = limits.ADVANCED_VIDEO.min_duration_ms
MIN_CLIP_MS = max(limits.MIN_CROP_MS, limits.AUDIO.min_duration_ms)
MIN_OVERLAP_MS = limits.MIN_FACE_OVERLAP_MS
# Picture the engine gets before the first and after the last clip of a window, when there is
# room: its face detection then sees the face settle before the speech starts.
LEAD_MS = 500
# Extra overlap with the face, when the stretch allows: the engine's own face window may start
# or end a frame or two away from ours.
SAFETY_MS = 200
# How much further than LEAD_MS a window edge may go to land on a shot change or a silence,
# and what each kind of edge costs in milliseconds of distance (a cut at a shot change hides
# the seam; a silence is the next best).
EDGE_REACH_MS = 1500
EDGE_PENALTY_MS = {"shot": 0, "silence": 300, "plain": 900}
# Between two blocks of speech closer than this, where one window ends decides what room the
# next has: several cut points are tried. Further apart, they cannot compete for room.
CROWDED_GAP_MS = 2 * (MIN_CLIP_MS + LEAD_MS + EDGE_REACH_MS)
CUTS_PER_CROWDED_GAP = 8
# Changed whenever planning or clip building changes what a job sends: old results are then
# not reused.
PLAN_VERSION = "1"


class PlanError(ValueError):
    """No plan meets the engine's rules; the message says what to change, in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Piece:
    """One line in a job's clip: its audio crop, placed `offset_ms` after the clip starts."""

    line_id: int | str
    audio_key: str
    crop_start_ms: int
    crop_end_ms: int
    offset_ms: int
    volume: float


@dataclass(frozen=True)
class Job:
    """One engine task: one person's face in one window, one clip.

    Times are relative to the window's first frame. `chain_index` is the job's place in its
    window: job n runs on the result of job n - 1 (job 0 on the window cut from the source).
    """

    window_index: int
    chain_index: int
    person_id: int
    face_start_ms: int  # the face's window expected from the engine's identify-face
    face_end_ms: int
    insert_ms: int  # sound_insert_time
    clip_ms: int  # the clip's length: sound_start_time 0, sound_end_time clip_ms
    pieces: tuple[Piece, ...]
    input_hash: str

    @property
    def line_ids(self) -> tuple[int | str, ...]:
        return tuple(piece.line_id for piece in self.pieces)


@dataclass(frozen=True)
class Window:
    """A part of the video sent to the engine: frames [start_frame, end_frame)."""

    index: int
    start_frame: int
    end_frame: int
    start_ms: int  # the first whole millisecond inside the window
    end_ms: int  # start_ms + duration_ms
    duration_ms: int  # whole milliseconds the engine sees (rounded down)
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class Plan:
    windows: tuple[Window, ...]

    @property
    def jobs(self) -> tuple[Job, ...]:
        return tuple(job for window in self.windows for job in window.jobs)

    @property
    def engine_tasks(self) -> int:
        return len(self.jobs)

    @property
    def seconds_sent(self) -> float:
        """Seconds of video the engine receives: each job gets its whole window."""
        return sum(len(window.jobs) * window.duration_ms for window in self.windows) / 1000

    def summary(self) -> dict:
        return {
            "windows": len(self.windows),
            "engine_tasks": self.engine_tasks,
            "seconds_sent": round(self.seconds_sent, 3),
            "video_seconds": round(sum(w.duration_ms for w in self.windows) / 1000, 3),
        }


def plan_dub(source: Source, people: Iterable[Person], lines: Sequence[Line]) -> Plan:
    """The jobs that lip-sync `lines` onto `source`; PlanError when no plan meets the rules."""
    people = {person.person_id: person for person in people}
    _check_input(source, people, lines)
    if not lines:
        return Plan(())
    planner = _Planner(source, people, lines)
    return Plan(tuple(planner.windows()))


# --- input ----------------------------------------------------------------------------------


def _check_input(source: Source, people: dict[int, Person], lines: Sequence[Line]) -> None:
    if lines and source.duration_ms < MIN_WINDOW_MS:
        raise PlanError(
            f"The video lasts {rules.seconds(source.duration_ms)}; the engine needs at least "
            f"{rules.seconds(MIN_WINDOW_MS)} of video."
        )
    for line_id, check in check_lines(lines, people.values()).items():
        if check.violations:
            line = next(line for line in lines if line.line_id == line_id)
            raise PlanError(
                f"Person {line.person_id}'s line at {clock(line.at_ms)}: {check.violations[0].text}"
            )
    for line in lines:
        if line.at_ms < 0 or line.end_ms > source.duration_ms:
            raise PlanError(
                f"Person {line.person_id}'s line at {clock(line.at_ms)} runs past the end of "
                "the video: move it earlier."
            )


# --- planning -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Group:
    """The lines of one on-screen stretch of one person."""

    person_id: int
    stretch: Span
    lines: tuple[Line, ...]

    @property
    def start_ms(self) -> int:
        return min(line.at_ms for line in self.lines)

    @property
    def end_ms(self) -> int:
        return max(line.end_ms for line in self.lines)


@dataclass(frozen=True)
class _Block:
    """Lines that play without a gap in which the video could be cut."""

    start_ms: int
    end_ms: int
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class _Run:
    """Consecutive blocks sent in one window, between two cut frames."""

    first: int
    last: int
    lo_frame: int  # the window may start at this frame or later
    hi_frame: int  # and end at this frame or earlier
    start_frame: int  # the smallest window that holds its jobs
    end_frame: int
    jobs: int


@dataclass(frozen=True)
class _Failure:
    reason: str


class _Planner:
    def __init__(self, source: Source, people: dict[int, Person], lines: Sequence[Line]) -> None:
        self.source = source
        self.people = people
        self.max_frames = source.frame_at_or_before(MAX_WINDOW_MS)
        self.min_frames = source.frame_at_or_after(MIN_WINDOW_MS)
        self.blocks = self._blocks(sorted(lines, key=lambda line: (line.at_ms, line.end_ms)))
        self.stretch_of = {
            line.line_id: people[line.person_id].stretch_holding(line.at_ms, line.end_ms)
            for line in lines
        }
        self.cuts = [self._cut_frames(index) for index in range(len(self.blocks) - 1)]
        self._cores: dict[tuple[int, int, int, int], _Run | _Failure] = {}

    # blocks and cuts

    def _blocks(self, lines: list[Line]) -> list[_Block]:
        grouped: list[list[Line]] = []
        end_ms = 0
        for line in lines:
            if grouped and not self._cuttable(end_ms, line.at_ms):
                grouped[-1].append(line)
                end_ms = max(end_ms, line.end_ms)
            else:
                grouped.append([line])
                end_ms = line.end_ms
        return [
            _Block(min(li.at_ms for li in b), max(li.end_ms for li in b), tuple(b)) for b in grouped
        ]

    def _cuttable(self, after_ms: int, before_ms: int) -> bool:
        """Whether a frame boundary lies in [after_ms, before_ms]: a cut with no line playing."""
        if before_ms < after_ms:
            return False
        first = self.source.frame_at_or_after(after_ms)
        return first <= self.source.frame_at_or_before(before_ms)

    def _cut_frames(self, gap: int) -> list[int]:
        """The frames tried as the border between block `gap` and the next one's windows."""
        start_ms, end_ms = self.blocks[gap].end_ms, self.blocks[gap + 1].start_ms
        first = self.source.frame_at_or_after(start_ms)
        last = self.source.frame_at_or_before(end_ms)
        if end_ms - start_ms >= CROWDED_GAP_MS:
            return [(first + last) // 2]
        frames = {first, last}
        step = max(1, (last - first) // (CUTS_PER_CROWDED_GAP - 1))
        frames.update(range(first, last + 1, step))
        for hint_ms, _kind in self._edge_hints(start_ms, end_ms):
            frames.add(min(max(self.source.frame_at_or_before(hint_ms), first), last))
        return sorted(frames)

    # one window's smallest extent

    def _core(self, first: int, last: int, lo_frame: int, hi_frame: int) -> _Run | _Failure:
        key = (first, last, lo_frame, hi_frame)
        if key not in self._cores:
            self._cores[key] = self._fit(first, last, lo_frame, hi_frame)
        return self._cores[key]

    def _fit(self, first: int, last: int, lo_frame: int, hi_frame: int) -> _Run | _Failure:
        source = self.source
        lines = [line for block in self.blocks[first : last + 1] for line in block.lines]
        speech_start = self.blocks[first].start_ms
        speech_end = self.blocks[last].end_ms
        if speech_end - speech_start > MAX_WINDOW_MS:
            return _Failure(_too_long(speech_start, speech_end))
        usable = (_ceil(source.frame_time(lo_frame)), int(source.frame_time(hi_frame)))
        groups = self._groups(lines)
        options = []
        for group in groups:
            starts = _clip_starts(group, usable)
            if starts is None:
                return _Failure(_no_room(group))
            options.append((starts, _clip_length(group)))
        left, right = _tightest(options, speech_start, speech_end)
        start_frame = max(source.frame_at_or_before(left), lo_frame)
        end_frame = min(source.frame_at_or_after(right), hi_frame)
        missing = self.min_frames - (end_frame - start_frame)
        if missing > 0:  # too short for the engine: grow it on both sides where there is room
            start_frame = max(lo_frame, start_frame - missing // 2)
            end_frame = min(hi_frame, start_frame + self.min_frames)
            start_frame = max(lo_frame, end_frame - self.min_frames)
            if end_frame - start_frame < self.min_frames:
                return _Failure(_too_short_around(speech_start))
        if end_frame - start_frame > self.max_frames:
            return _Failure(_too_long(speech_start, speech_end))
        return _Run(first, last, lo_frame, hi_frame, start_frame, end_frame, len(groups))

    def _groups(self, lines: Iterable[Line]) -> list[_Group]:
        by_stretch: dict[tuple[int, Span], list[Line]] = {}
        for line in lines:
            by_stretch.setdefault((line.person_id, self.stretch_of[line.line_id]), []).append(line)
        groups = [
            _Group(person_id, stretch, tuple(sorted(members, key=lambda li: li.at_ms)))
            for (person_id, stretch), members in by_stretch.items()
        ]
        return sorted(groups, key=lambda group: (group.start_ms, group.person_id))

    # the best sequence of windows

    def _runs(self) -> list[_Run]:
        """Dynamic programming over (last block, cut frame after it): fewest jobs, then fewest
        frames sent."""
        count = len(self.blocks)
        end_frame = self.source.frame_count
        best: dict[tuple[int, int], tuple[tuple[int, int], tuple[int, int] | None, _Run]] = {}
        for last in range(count):
            his = self.cuts[last] if last < count - 1 else [end_frame]
            for first in range(last, -1, -1):
                if self.blocks[last].end_ms - self.blocks[first].start_ms > MAX_WINDOW_MS:
                    break
                los = self.cuts[first - 1] if first > 0 else [0]
                for lo in los:
                    before = best.get((first - 1, lo)) if first > 0 else ((0, 0), None, None)
                    if before is None:
                        continue
                    for hi in his:
                        run = self._core(first, last, lo, hi)
                        if isinstance(run, _Failure):
                            continue
                        frames = run.jobs * (run.end_frame - run.start_frame)
                        cost = (before[0][0] + run.jobs, before[0][1] + frames)
                        state = (last, hi)
                        if state not in best or cost < best[state][0]:
                            previous = (first - 1, lo) if first > 0 else None
                            best[state] = (cost, previous, run)
        final = best.get((count - 1, end_frame))
        if final is None:
            raise PlanError(self._explain_failure(best))
        runs = []
        state: tuple[int, int] | None = (count - 1, end_frame)
        while state is not None:
            _, previous, run = best[state]
            runs.append(run)
            state = previous
        return runs[::-1]

    def _explain_failure(self, best: dict) -> str:
        """The first block no window can hold, and why, with the most room it could have."""
        count = len(self.blocks)
        stuck = next(k for k in range(count) if not any(key[0] == k for key in best))
        lo = self.cuts[stuck - 1][0] if stuck > 0 else 0
        hi = self.cuts[stuck][-1] if stuck < count - 1 else self.source.frame_count
        alone = self._fit(stuck, stuck, lo, hi)
        if isinstance(alone, _Failure):
            return alone.reason
        return (
            f"The lines around {clock(self.blocks[stuck].start_ms)} are too close to the lines "
            "before them for the video to be cut between them within the engine's 60 s: leave "
            "a longer pause between them."
        )

    # final windows and jobs

    def windows(self) -> list[Window]:
        return [self._window(index, run) for index, run in enumerate(self._runs())]

    def _window(self, index: int, run: _Run) -> Window:
        source = self.source
        start_frame = self._start_edge(run)
        end_frame = self._end_edge(run, start_frame)
        # Whole milliseconds that stay inside the exact window: a clip placed between them in
        # window-relative ms fits the video the engine sees.
        start_ms = _ceil(source.frame_time(start_frame))
        duration_ms = int(source.frame_time(end_frame) - source.frame_time(start_frame))
        lines = [li for block in self.blocks[run.first : run.last + 1] for li in block.lines]
        usable = (start_ms, start_ms + duration_ms)
        placed = sorted(
            ((_placed_clip(group, usable), group) for group in self._groups(lines)),
            key=lambda item: (item[0][0], item[1].person_id),
        )
        jobs: list[Job] = []
        for chain_index, ((clip_start, clip_ms), group) in enumerate(placed):
            face = (
                max(group.stretch[0] - start_ms, 0),
                min(group.stretch[1] - start_ms, duration_ms),
            )
            pieces = tuple(
                Piece(
                    line.line_id,
                    line.audio_key,
                    line.crop_start_ms,
                    line.crop_end_ms,
                    line.at_ms - clip_start,
                    line.volume,
                )
                for line in group.lines
            )
            job = Job(
                window_index=index,
                chain_index=chain_index,
                person_id=group.person_id,
                face_start_ms=face[0],
                face_end_ms=face[1],
                insert_ms=clip_start - start_ms,
                clip_ms=clip_ms,
                pieces=pieces,
                input_hash="",
            )
            previous = jobs[-1].input_hash if jobs else None
            job = _with_hash(job, source, start_frame, end_frame, previous)
            _assert_contract(job, duration_ms)
            jobs.append(job)
        return Window(
            index=index,
            start_frame=start_frame,
            end_frame=end_frame,
            start_ms=start_ms,
            end_ms=start_ms + duration_ms,
            duration_ms=duration_ms,
            jobs=tuple(jobs),
        )

    def _start_edge(self, run: _Run) -> int:
        source = self.source
        earliest = max(run.lo_frame, run.end_frame - self.max_frames)
        core_ms = source.frame_time(run.start_frame)
        target = core_ms - LEAD_MS
        reach = (max(core_ms - LEAD_MS - EDGE_REACH_MS, source.frame_time(earliest)), core_ms)
        plain = source.frame_at_or_before(target)
        return self._best_edge(target, plain, reach, earliest, run.start_frame)

    def _end_edge(self, run: _Run, start_frame: int) -> int:
        source = self.source
        latest = min(run.hi_frame, start_frame + self.max_frames)
        core_ms = source.frame_time(run.end_frame)
        target = core_ms + LEAD_MS
        reach = (core_ms, min(core_ms + LEAD_MS + EDGE_REACH_MS, source.frame_time(latest)))
        plain = source.frame_at_or_after(target)
        return self._best_edge(target, plain, reach, run.end_frame, latest)

    def _best_edge(
        self,
        target: Fraction,
        plain: int,
        reach: tuple[Fraction, Fraction],
        lowest: int,
        highest: int,
    ) -> int:
        """A frame in [lowest, highest]: `plain` (the frame that leaves LEAD_MS) or a shot
        change or a silence in `reach`, whichever is nearest `target` once each kind's penalty
        is added."""
        source = self.source
        plain = min(max(plain, lowest), highest)
        choices = [(abs(source.frame_time(plain) - target) + EDGE_PENALTY_MS["plain"], plain)]
        for hint_ms, kind in self._edge_hints(reach[0], reach[1], near=target):
            # A shot starts at the first frame at or after its time; a silence's point is
            # taken at a frame inside it.
            frame = source.frame_at_or_after(hint_ms)
            if kind == "silence" and source.frame_time(frame) > hint_ms:
                inside = source.frame_at_or_before(hint_ms)
                frame = inside if self._in_silence(source.frame_time(inside)) else frame
            frame = min(max(frame, lowest), highest)
            distance = abs(source.frame_time(frame) - target)
            choices.append((distance + EDGE_PENALTY_MS[kind], frame))
        return min(choices)[1]

    def _in_silence(self, ms: Fraction) -> bool:
        return any(start <= ms <= end for start, end in self.source.silences)

    def _edge_hints(
        self, start_ms: Fraction | int, end_ms: Fraction | int, near: Fraction | None = None
    ) -> list[tuple[Fraction | int, str]]:
        """Shot changes in [start_ms, end_ms], and for each silence the point of it in that
        range nearest `near` (or its middle)."""
        hints: list[tuple[Fraction | int, str]] = [
            (t, "shot") for t in self.source.shot_changes if start_ms <= t <= end_ms
        ]
        for silence_start, silence_end in self.source.silences:
            low, high = max(silence_start, start_ms), min(silence_end, end_ms)
            if low > high:
                continue
            point = (low + high) / 2 if near is None else min(max(near, low), high)
            hints.append((point, "silence"))
        return hints


# --- clips ----------------------------------------------------------------------------------


def _clip_length(group: _Group) -> int:
    return max(group.end_ms - group.start_ms, MIN_CLIP_MS)


def _clip_starts(group: _Group, usable: Span) -> Span | None:
    """Where the group's clip may start: it holds the lines, lies on the face (so the whole clip
    overlaps it) and within the window's usable part."""
    length = _clip_length(group)
    face_start, face_end = max(group.stretch[0], usable[0]), min(group.stretch[1], usable[1])
    low = max(group.end_ms - length, face_start)
    high = min(group.start_ms, face_end - length)
    return (low, high) if low <= high else None


def _tightest(options: list[tuple[Span, int]], start_ms: int, end_ms: int) -> Span:
    """The smallest [left, right] holding [start_ms, end_ms) and one placement of each clip.

    Each clip's start lies in its own range; trying every left edge a clip could impose, each
    clip then starts as early as the edge allows.
    """
    lefts = {start_ms} | {low for (low, _high), _ in options if low < start_ms}
    best: Span | None = None
    for left in sorted(lefts):
        right = end_ms
        for (low, high), length in options:
            clip_start = max(left, low)
            if clip_start > high:
                break
            right = max(right, clip_start + length)
        else:
            if best is None or right - left < best[1] - best[0]:
                best = (left, right)
    assert best is not None, "the smallest left edge always fits: each clip starts at its low"
    return best


def _placed_clip(group: _Group, usable: Span) -> tuple[int, int]:
    """The clip's start and length in a window: 2 s or more (with SAFETY_MS more where the face
    allows), the padding shared before and after the lines, away from the face's edges when
    possible."""
    span = group.end_ms - group.start_ms
    face_start, face_end = max(group.stretch[0], usable[0]), min(group.stretch[1], usable[1])
    length = max(span, min(MIN_CLIP_MS + SAFETY_MS, face_end - face_start))
    low = max(group.end_ms - length, face_start)
    high = min(group.start_ms, face_end - length)
    ideal = group.start_ms - (length - span) // 2
    kept_low = max(low, group.stretch[0] + SAFETY_MS)
    kept_high = min(high, group.stretch[1] - SAFETY_MS - length)
    if kept_low <= kept_high:
        low, high = kept_low, kept_high
    return min(max(ideal, low), high), length


def _with_hash(
    job: Job, source: Source, start_frame: int, end_frame: int, previous: str | None
) -> Job:
    """The job with a hash of everything its result depends on, the previous job's included."""
    content = {
        "version": PLAN_VERSION,
        "source": source.key,
        "fps": str(source.fps),
        "frames": [start_frame, end_frame],
        "person": job.person_id,
        "face": [job.face_start_ms, job.face_end_ms],
        "insert": job.insert_ms,
        "clip_ms": job.clip_ms,
        "pieces": [
            [p.audio_key, p.crop_start_ms, p.crop_end_ms, p.offset_ms, p.volume] for p in job.pieces
        ],
        "after": previous,
    }
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return replace(job, input_hash=digest)


def _assert_contract(job: Job, video_ms: int) -> None:
    broken = rules.check_advanced_timing(
        audio_ms=job.clip_ms,
        video_ms=video_ms,
        face_start_ms=job.face_start_ms,
        face_end_ms=job.face_end_ms,
        sound_start_ms=0,
        sound_end_ms=job.clip_ms,
        sound_insert_ms=job.insert_ms,
    )
    if broken:  # a planning bug, not a user's mistake
        raise AssertionError(f"planned job breaks the contract: {broken}")


# --- messages -------------------------------------------------------------------------------


def _too_long(start_ms: int, end_ms: int) -> str:
    return (
        f"From {clock(start_ms)} to {clock(end_ms)} lines play without a pause, for "
        f"{rules.seconds(end_ms - start_ms)}; the engine takes at most "
        f"{rules.seconds(MAX_WINDOW_MS)} of video at a time. Leave a short pause (a few "
        "frames are enough) between two lines somewhere in that part."
    )


def _no_room(group: _Group) -> str:
    return (
        f"Person {group.person_id}'s line at {clock(group.start_ms)} is too close to other "
        f"lines: the engine needs {rules.seconds(MIN_OVERLAP_MS)} of their face around it in "
        "the same part of the video. Move it or the lines next to it a little apart."
    )


def _too_short_around(start_ms: int) -> str:
    return (
        f"The lines at {clock(start_ms)} leave too little video around them: the engine needs "
        f"at least {rules.seconds(MIN_WINDOW_MS)} of video at a time. Move them a little apart "
        "from the lines next to them."
    )


def _ceil(value: Fraction) -> int:
    return -(-value.numerator // value.denominator)
