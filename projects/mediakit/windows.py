"""Cutting a window of a video, frame-exactly, as the MP4 an engine is sent.

The window [start_ms, end_ms) is taken on frame boundaries of the source's timeline (see
streams.py): frame numbers round(start_ms * fps / 1000) up to, not including, the end's. The
pictures are re-encoded (a cut between keyframes cannot be copied), H.264 at a visually
lossless quality with the bitrate capped for the engine's 100 MB; the sound is the source's
own over the same span, sample-exact, as AAC. Streamed: a few frames in memory at a time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from projects.mediakit.conform import written_atomically
from projects.mediakit.errors import MediaError
from projects.mediakit.streams import (
    Mp4Writer,
    Soundtrack,
    frames_in,
    numbered_frames,
    open_video,
    samples_at,
    video_facts,
)


@dataclass(frozen=True)
class CutWindow:
    path: Path
    first_frame: int
    frame_count: int
    fps: Fraction
    width: int
    height: int

    @property
    def duration_ms(self) -> float:
        return float(self.frame_count * 1000 / self.fps)


def cut_window(
    source: str | os.PathLike,
    start_ms: int,
    end_ms: int,
    out: str | os.PathLike,
    *,
    size: tuple[int, int] | None = None,
) -> CutWindow:
    """Write frames [start_ms, end_ms) of `source` (and its sound) to `out` as an MP4.

    `size` scales the pictures (even sides), e.g. up to the engine's 512 px minimum; the
    default keeps the source's. Raises MediaError with a plain message when the window lies
    outside the video or the file cannot be read; `out` is then left untouched.
    """
    out = Path(out)
    container, stream = open_video(source)
    with container:
        facts = video_facts(container, stream)
        first, last = frames_in(start_ms, facts.fps), frames_in(end_ms, facts.fps)
        if last <= first:
            raise MediaError("The part of the video to cut is empty.")
        width, height = _even(size) if size else (facts.width, facts.height)
        with written_atomically(out) as part:
            writer = Mp4Writer(part, (width, height), facts.fps, with_audio=facts.has_audio)
            sound = Soundtrack(source, facts.start_s, samples_at(first / facts.fps))
            try:
                _copy(container, stream, facts, (first, last), sound, writer)
            finally:
                sound.close()
                writer.close()
    return CutWindow(out, first, last - first, facts.fps, width, height)


def _copy(container, stream, facts, frames: tuple[int, int], sound, writer: Mp4Writer) -> None:
    """Frames [first, last) and the sound under them, interleaved frame by frame."""
    first, last = frames
    for number, frame in numbered_frames(container, stream, facts, first):
        if number >= last:
            break
        writer.write_frame(frame)
        writer.write_audio(sound.read(writer.audio_due()))
    if writer.frames < last - first:
        raise MediaError(
            "The part of the video to cut runs past its end: choose an earlier end."
            if writer.frames
            else "The part of the video to cut starts after its end."
        )


def _even(size: tuple[int, int]) -> tuple[int, int]:
    return max(2, size[0] // 2 * 2), max(2, size[1] // 2 * 2)
