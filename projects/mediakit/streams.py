"""Streaming pieces shared by window cutting, clip building and assembly.

A video's *timeline* starts at its video stream's start (its first frame); frame n is the one
shown at n / fps on it. `numbered_frames` gives each number exactly once, in order, whatever a
variable-rate or damaged stream delivers (a missing frame repeats the previous one, a
duplicate is dropped), so that frame numbers mean the same in the source, in a window cut from
it and in the assembled result. `Soundtrack` reads a file's sound on that timeline as float32
stereo at 48 kHz, a chunk at a time. `Mp4Writer` writes H.264 + AAC with the index first
(faststart). Nothing here holds more than a few frames or a chunk of sound at once.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.container
import numpy as np

from projects.engines.local.audio import CHANNELS, SAMPLE_RATE
from projects.mediakit.conform import add_h264_stream
from projects.mediakit.errors import MediaError
from projects.mediakit.safeopen import first_audio_stream, first_video_stream, open_input

# Quality of intermediate and final encodes: visually lossless, as windows pass through three
# encodes (cut, engine, assembly) and must not show where they were.
CRF = 18
PRESET = "veryfast"
# The engine takes at most 100 MB a video: capped this way, 60 s stay under 95 MB.
MAX_VIDEO_BITRATE = "12M"
AUDIO_BITRATE = 128_000


@dataclass(frozen=True)
class VideoFacts:
    width: int  # even: H.264 4:2:0 needs even sides
    height: int
    fps: Fraction
    start_s: float  # where the timeline's 0 is, in the stream's own time
    has_audio: bool


def open_video(path: str | os.PathLike) -> tuple[av.container.InputContainer, av.VideoStream]:
    """The file opened with the safe opener, and its first picture track."""
    try:
        container = open_input(Path(path))
    except (av.FFmpegError, OSError) as error:
        raise MediaError("This video could not be read. Export it again and retry.") from error
    stream = first_video_stream(container)
    if stream is None:
        container.close()
        raise MediaError("This file has no pictures, so it cannot be used as a video.")
    stream.thread_type = "AUTO"
    return container, stream


def video_facts(container: av.container.InputContainer, stream: av.VideoStream) -> VideoFacts:
    rate = stream.average_rate or stream.guessed_rate or Fraction(25)
    start = stream.start_time
    start_s = float(start * stream.time_base) if start is not None and stream.time_base else 0.0
    return VideoFacts(
        width=stream.codec_context.width // 2 * 2,
        height=stream.codec_context.height // 2 * 2,
        fps=Fraction(rate).limit_denominator(1001),
        start_s=start_s,
        has_audio=first_audio_stream(container) is not None,
    )


def numbered_frames(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    facts: VideoFacts,
    first: int = 0,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(number, frame) for every frame number from `first` on, until the stream ends."""
    if first > 0:
        seek_s = facts.start_s + float(first / facts.fps) - 1.0
        if seek_s > facts.start_s and stream.time_base:
            container.seek(int(seek_s / stream.time_base), stream=stream, backward=True)
    expected = first
    previous: av.VideoFrame | None = None
    try:
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            number = round((frame.time - facts.start_s) * facts.fps)
            if number < expected:
                previous = frame
                continue
            while previous is not None and expected < number:  # a gap: hold the last frame
                yield expected, previous
                expected += 1
            yield number, frame
            expected, previous = number + 1, frame
    except av.FFmpegError as error:
        raise MediaError(
            "This video is damaged part-way through. Export it again and retry."
        ) from error


def frame_at_time(frame: av.VideoFrame, number: int, fps: Fraction) -> av.VideoFrame:
    """`frame` stamped as frame `number` of a `fps` timeline, for an encoder."""
    frame.pts, frame.time_base = number, 1 / fps
    frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose keyframes
    return frame


class Soundtrack:
    """A file's first audio track on a video timeline: float32 stereo at SAMPLE_RATE.

    `read(count)` returns the next `count` samples, silence where the file has none (before its
    sound starts, after it ends, or when it has no audio track at all).
    """

    def __init__(self, path: str | os.PathLike, start_s: float, from_sample: int = 0) -> None:
        self.container = open_input(Path(path))
        self.stream = first_audio_stream(self.container)
        self.start_s = start_s
        self.position = from_sample  # the next sample `read` returns, on the timeline
        self.pending = np.zeros((CHANNELS, 0), dtype=np.float32)
        self.pending_start = from_sample
        self.chunks = self._chunks(from_sample) if self.stream is not None else iter(())

    def _chunks(self, from_sample: int) -> Iterator[tuple[int, np.ndarray]]:
        stream = self.stream
        from_s = self.start_s + from_sample / SAMPLE_RATE - 0.5
        if from_s > self.start_s and stream.time_base:
            self.container.seek(int(from_s / stream.time_base), stream=stream, backward=True)
        mono = stream.codec_context.channels == 1
        # Mono resampled as mono and copied to both sides, as audio.decode_audio does: FFmpeg's
        # upmix would lower it by 3 dB.
        resampler = av.AudioResampler(
            format="fltp", layout="mono" if mono else "stereo", rate=SAMPLE_RATE
        )
        next_start = None
        try:
            for frame in self.container.decode(stream):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().astype(np.float32, copy=False)
                    if mono:
                        samples = np.repeat(samples, CHANNELS, axis=0)
                    if next_start is None:
                        next_start = round(((out.time or 0.0) - self.start_s) * SAMPLE_RATE)
                    yield next_start, samples
                    next_start += samples.shape[1]
        except av.FFmpegError as error:
            raise MediaError(
                "The sound of this file is damaged part-way through. Export it again and retry."
            ) from error

    def read(self, count: int) -> np.ndarray:
        out = np.zeros((CHANNELS, count), dtype=np.float32)
        end = self.position + count
        while self.pending_start + self.pending.shape[1] < end:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self._keep(*chunk)
        lo = max(self.position, self.pending_start)
        hi = min(end, self.pending_start + self.pending.shape[1])
        if hi > lo:
            out[:, lo - self.position : hi - self.position] = self.pending[
                :, lo - self.pending_start : hi - self.pending_start
            ]
        self.position = end
        drop = max(0, min(self.position - self.pending_start, self.pending.shape[1]))
        self.pending, self.pending_start = self.pending[:, drop:], self.pending_start + drop
        return out

    def _keep(self, start: int, samples: np.ndarray) -> None:
        """Append a decoded chunk (its first sample at `start`) to what is pending."""
        pending_end = self.pending_start + self.pending.shape[1]
        if not self.pending.shape[1]:
            self.pending, self.pending_start = samples, start
            return
        if start > pending_end:  # a hole in the stream: silence
            gap = np.zeros((CHANNELS, start - pending_end), dtype=np.float32)
            self.pending = np.concatenate([self.pending, gap, samples], axis=1)
        else:
            self.pending = np.concatenate([self.pending, samples[:, pending_end - start :]], axis=1)

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> Soundtrack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def samples_at(seconds: Fraction | float) -> int:
    return round(seconds * SAMPLE_RATE)


class Mp4Writer:
    """H.264 (yuv420p) + AAC stereo 48 kHz in an MP4 with the index first."""

    def __init__(
        self,
        path: str | os.PathLike,
        size: tuple[int, int],
        fps: Fraction,
        *,
        with_audio: bool = True,
        crf: int = CRF,
        preset: str = PRESET,
    ) -> None:
        self.container = av.open(
            os.fspath(path), "w", format="mp4", options={"movflags": "+faststart"}
        )
        self.size, self.fps = size, fps
        self.video = add_h264_stream(self.container, fps, size, crf, preset)
        self.video.codec_context.options = {
            **self.video.codec_context.options,
            "maxrate": MAX_VIDEO_BITRATE,
            "bufsize": "24M",
        }
        self.audio = None
        if with_audio:
            self.audio = self.container.add_stream("aac", rate=SAMPLE_RATE)
            self.audio.layout = "stereo"
            self.audio.bit_rate = AUDIO_BITRATE
        self.frames = 0
        self.samples = 0

    def write_frame(self, frame: av.VideoFrame) -> None:
        """The next frame; reformatted to the output's size and pixel format when it differs."""
        width, height = self.size
        if (frame.width, frame.height) != self.size or frame.format.name != "yuv420p":
            frame = frame.reformat(
                width=width, height=height, format="yuv420p", interpolation="BICUBIC"
            )
        self.container.mux(self.video.encode(frame_at_time(frame, self.frames, self.fps)))
        self.frames += 1

    def write_audio(self, samples: np.ndarray) -> None:
        if self.audio is None or samples.shape[1] == 0:
            return
        chunk = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout="stereo"
        )
        chunk.sample_rate = SAMPLE_RATE
        chunk.pts, chunk.time_base = self.samples, Fraction(1, SAMPLE_RATE)
        self.samples += samples.shape[1]
        self.container.mux(self.audio.encode(chunk))

    def audio_due(self) -> int:
        """Samples still to write for the sound to reach the end of the frames written."""
        return samples_at(Fraction(self.frames) / self.fps) - self.samples

    def close(self) -> None:
        try:
            self.container.mux(self.video.encode(None))
            if self.audio is not None:
                self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()


def frames_in(duration_ms: float, fps: Fraction) -> int:
    return max(0, math.floor(Fraction(duration_ms) * fps / 1000 + Fraction(1, 2)))
