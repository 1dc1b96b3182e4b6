"""Assembling a dub: processed windows spliced into the source, under our own sound mix.

The result has the source's frame count, size and frame rate. Each processed window (the
result of the last job of its chain) replaces its span frame for frame; every other frame is
the source's own. The sound is never the engine's: chained jobs would have mixed the original
soundtrack once per job. It is the source's soundtrack at the dub's original volume plus every
line's crop at its time and volume, through the contract's soft limiter (the local engine's
mix, audio.py), continuous across window edges, so an edge cannot click.

One pass, streamed: the source is decoded once, each window's result while its span is
written, the sound a frame's worth at a time, and each line's crop only while it plays.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from projects.engines.local import audio
from projects.mediakit.clips import read_crop
from projects.mediakit.conform import written_atomically
from projects.mediakit.errors import MediaError
from projects.mediakit.streams import (
    Mp4Writer,
    Soundtrack,
    VideoFacts,
    frames_in,
    numbered_frames,
    open_video,
    video_facts,
)


@dataclass(frozen=True)
class ProcessedWindow:
    """A window's span on the source (ms on frame boundaries) and the video that replaces it."""

    start_ms: int
    end_ms: int
    video: Path


@dataclass(frozen=True)
class MixLine:
    """A line as heard: [crop_start_ms, crop_end_ms) of `path`, from `at_ms`, at `volume`."""

    path: Path
    crop_start_ms: int
    crop_end_ms: int
    at_ms: int
    volume: float = 1.0


@dataclass(frozen=True)
class Mix:
    original_volume: float
    lines: tuple[MixLine, ...] = ()


@dataclass(frozen=True)
class Assembled:
    path: Path
    frame_count: int
    fps: Fraction
    width: int
    height: int

    @property
    def duration_ms(self) -> float:
        return float(self.frame_count * 1000 / self.fps)


def assemble(
    source: str | os.PathLike,
    windows: Sequence[ProcessedWindow],
    mix: Mix,
    out: str | os.PathLike,
) -> Assembled:
    """Write the dubbed video to `out` (H.264/AAC MP4, faststart); MediaError in plain words
    when a window does not fit the source or a file cannot be read. `out` appears whole or not
    at all."""
    out = Path(out)
    container, stream = open_video(source)
    with container:
        facts = video_facts(container, stream)
        spans = _spans(windows, facts.fps)
        with written_atomically(out) as part:
            writer = Mp4Writer(part, (facts.width, facts.height), facts.fps)
            sound = Soundtrack(source, facts.start_s)
            try:
                frames = numbered_frames(container, stream, facts)
                _write(frames, spans, facts, sound, mix, writer)
            finally:
                sound.close()
                writer.close()
    return Assembled(out, writer.frames, facts.fps, facts.width, facts.height)


@dataclass(frozen=True)
class _Span:
    first: int
    last: int  # exclusive
    video: Path


def _spans(windows: Sequence[ProcessedWindow], fps: Fraction) -> list[_Span]:
    spans = sorted(
        (
            _Span(frames_in(w.start_ms, fps), frames_in(w.end_ms, fps), Path(w.video))
            for w in windows
        ),
        key=lambda span: span.first,
    )
    for before, after in itertools.pairwise(spans):
        if after.first < before.last:
            raise MediaError("Two processed parts of the video overlap.")
    return spans


def _write(
    frames: Iterator[tuple[int, av.VideoFrame]],
    spans: list[_Span],
    facts: VideoFacts,
    sound: Soundtrack,
    mix: Mix,
    writer: Mp4Writer,
) -> None:
    pending = list(spans)
    reader: _WindowReader | None = None
    lines = _LinesPlaying(mix.lines)
    for number, frame in frames:
        while pending and number >= pending[0].last:
            pending.pop(0)
        picture = frame
        if pending and number >= pending[0].first:
            if reader is None or reader.span is not pending[0]:
                reader = _replace_reader(reader, pending[0], facts.fps)
            picture = reader.frame(number - pending[0].first)
        elif reader is not None:
            reader = _replace_reader(reader, None, facts.fps)
        writer.write_frame(picture)
        due = writer.audio_due()
        chunk = sound.read(due) * np.float32(mix.original_volume)
        lines.add_into(chunk, writer.samples)
        writer.write_audio(audio.soft_limit(chunk))
    if reader is not None:
        reader.close()
    if pending and pending[-1].last > writer.frames:
        raise MediaError("A processed part of the video runs past the end of the source.")


def _replace_reader(
    reader: _WindowReader | None, span: _Span | None, fps: Fraction
) -> _WindowReader | None:
    if reader is not None:
        reader.close()
    return _WindowReader(span, fps) if span is not None else None


class _WindowReader:
    """A processed window's frames, by frame number within the window.

    Frames are matched by time, so a result at another frame rate still lines up; a result a
    frame short holds its last frame.
    """

    def __init__(self, span: _Span, fps: Fraction) -> None:
        self.span, self.fps = span, fps
        self.container, stream = open_video(span.video)
        self.facts = video_facts(self.container, stream)
        self.frames = numbered_frames(self.container, stream, self.facts)
        self.current: av.VideoFrame | None = None
        self.current_number = -1

    def frame(self, number: int) -> av.VideoFrame:
        wanted = round(Fraction(number) / self.fps * self.facts.fps)
        while self.current_number < wanted:
            found = next(self.frames, None)
            if found is None:
                break
            self.current_number, self.current = found
        if self.current is None:
            raise MediaError("A processed part of the video has no pictures.")
        return self.current

    def close(self) -> None:
        self.container.close()


class _LinesPlaying:
    """The lines' crops added into the sound as it is written; a crop is decoded when its
    line starts and let go when it ends."""

    def __init__(self, lines: Sequence[MixLine]) -> None:
        self.waiting = sorted(lines, key=lambda line: line.at_ms)
        self.playing: list[tuple[int, np.ndarray]] = []  # (first sample, scaled crop)

    def add_into(self, chunk: np.ndarray, start: int) -> None:
        end = start + chunk.shape[1]
        while self.waiting and audio.ms_to_samples(self.waiting[0].at_ms) < end:
            line = self.waiting.pop(0)
            crop = read_crop(line.path, line.crop_start_ms, line.crop_end_ms)
            self.playing.append((audio.ms_to_samples(line.at_ms), crop * np.float32(line.volume)))
        still = []
        for first, crop in self.playing:
            lo, hi = max(start, first), min(end, first + crop.shape[1])
            if hi > lo:
                chunk[:, lo - start : hi - start] += crop[:, lo - first : hi - first]
            if first + crop.shape[1] > end:
                still.append((first, crop))
        self.playing = still
