"""Where a video can be cut unnoticed: its soundtrack's silences and its shot changes.

One streaming pass over the file decodes both tracks. A shot change is a frame whose tiny colour
picture differs from the previous one far more than frames usually differ around it; a silence
is a stretch of at least MIN_SILENCE_MS whose loudness stays under SILENCE_DBFS. Times are ms on
the video's timeline (streams.py). The planner uses both as hints for window edges.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass

import av
import numpy as np

from projects.mediakit.errors import MediaError
from projects.mediakit.safeopen import first_audio_stream
from projects.mediakit.streams import open_video, video_facts

THUMB_SIZE = (64, 36)
# A cut changes the picture by this many levels (of 255, per colour) on average at least, and
# this many times more than the median change of the frames just before it.
SHOT_MIN_CHANGE = 20.0
SHOT_CHANGE_RATIO = 4.0
RECENT_CHANGES = 12
SILENCE_DBFS = -45.0
MIN_SILENCE_MS = 300
LOUDNESS_BLOCK_MS = 10


@dataclass(frozen=True)
class CutHints:
    silences: tuple[tuple[int, int], ...]
    shot_changes: tuple[int, ...]
    duration_ms: int


def find_cut_hints(source: str | os.PathLike) -> CutHints:
    container, video = open_video(source)
    with container:
        facts = video_facts(container, video)
        sound = first_audio_stream(container)
        shots = _ShotChanges()
        quiet = _Silences() if sound is not None else None
        streams = [video] + ([sound] if sound is not None else [])
        last_ms = 0.0
        try:
            for packet in container.demux(streams):
                for frame in packet.decode():
                    if frame.time is None:
                        continue
                    t_ms = (frame.time - facts.start_s) * 1000
                    if isinstance(frame, av.VideoFrame):
                        shots.add(frame, t_ms)
                        last_ms = max(last_ms, t_ms + float(1000 / facts.fps))
                    elif quiet is not None:
                        quiet.add(frame, t_ms)
        except av.FFmpegError as error:
            raise MediaError(
                "This video is damaged part-way through. Export it again and retry."
            ) from error
    silences = quiet.finish(last_ms) if quiet is not None else ((0, round(last_ms)),)
    return CutHints(silences, tuple(shots.found), round(last_ms))


class _ShotChanges:
    def __init__(self) -> None:
        self.previous: np.ndarray | None = None
        self.recent: deque[float] = deque(maxlen=RECENT_CHANGES)
        self.found: list[int] = []

    def add(self, frame: av.VideoFrame, t_ms: float) -> None:
        width, height = THUMB_SIZE
        thumb = frame.reformat(width=width, height=height, format="rgb24").to_ndarray()
        thumb = thumb.astype(np.float32)
        if self.previous is not None:
            change = float(np.abs(thumb - self.previous).mean())
            usual = float(np.median(self.recent)) if self.recent else 0.0
            if change >= SHOT_MIN_CHANGE and change >= SHOT_CHANGE_RATIO * usual:
                self.found.append(round(t_ms))
            else:
                self.recent.append(change)
        self.previous = thumb


class _Silences:
    """Loudness in short blocks of a mono 16 kHz copy of the sound."""

    RATE = 16_000

    def __init__(self) -> None:
        self.resampler = av.AudioResampler(format="flt", layout="mono", rate=self.RATE)
        self.block = self.RATE * LOUDNESS_BLOCK_MS // 1000
        self.threshold = 10 ** (SILENCE_DBFS / 20)
        self.buffer = np.zeros(0, dtype=np.float32)
        self.buffer_ms: float | None = None
        self.quiet_since: float | None = None
        self.found: list[tuple[int, int]] = []

    def add(self, frame: av.AudioFrame, t_ms: float) -> None:
        for out in self.resampler.resample(frame):
            samples = out.to_ndarray().reshape(-1)
            if self.buffer_ms is None:
                self.buffer_ms = t_ms
            self.buffer = np.concatenate([self.buffer, samples])
            self._blocks()

    def _blocks(self) -> None:
        whole = self.buffer.size // self.block
        if not whole:
            return
        blocks = self.buffer[: whole * self.block].reshape(whole, self.block)
        loudness = np.sqrt(np.mean(blocks.astype(np.float64) ** 2, axis=1))
        for index, level in enumerate(loudness):
            t_ms = self.buffer_ms + index * LOUDNESS_BLOCK_MS
            if level < self.threshold:
                self.quiet_since = t_ms if self.quiet_since is None else self.quiet_since
            else:
                self._close(t_ms)
        self.buffer = self.buffer[whole * self.block :]
        self.buffer_ms += whole * LOUDNESS_BLOCK_MS

    def _close(self, t_ms: float) -> None:
        if self.quiet_since is not None and t_ms - self.quiet_since >= MIN_SILENCE_MS:
            self.found.append((round(self.quiet_since), round(t_ms)))
        self.quiet_since = None

    def finish(self, end_ms: float) -> tuple[tuple[int, int], ...]:
        self._close(end_ms)
        return tuple(self.found)
