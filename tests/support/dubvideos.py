"""A long video of two real people for whole-dub tests, with a soundtrack of its own.

The pictures come from facevideos.write_face_video (real face photographs on a plain
background, with their true on-screen windows); a soundtrack is then muxed in beside them,
the pictures' packets copied as they are: a quiet hum with silent gaps, the original sound a
dub keeps at its own volume.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from tests.support.facevideos import ASTRONAUT, LFW, Appearance, TruthWindow, write_face_video
from tests.support.numbered_media import RATE

HUM_HZ = 220.0
HUM_LEVEL = 0.08

# 150 s, two people: the astronaut (person 1) on the left, the LFW face (person 2) on the
# right. Each enters, leaves and comes back; they share the screen for 10-40 s, 62-95 s and
# 120-150 s.
TWO_PEOPLE = (
    Appearance(ASTRONAUT, 0, 40_000, center=(0.27, 0.5)),
    Appearance(ASTRONAUT, 55_000, 100_000, center=(0.27, 0.5)),
    Appearance(ASTRONAUT, 120_000, 150_000, center=(0.3, 0.5)),
    Appearance(LFW, 10_000, 50_000, center=(0.73, 0.5)),
    Appearance(LFW, 62_000, 95_000, center=(0.73, 0.5)),
    Appearance(LFW, 105_000, 150_000, center=(0.7, 0.5)),
)
QUIET = ((16_000, 18_500), (66_000, 67_500), (126_000, 128_000))


def write_two_people_video(
    path: Path,
    *,
    appearances: Sequence[Appearance] = TWO_PEOPLE,
    duration_ms: int = 150_000,
    size: tuple[int, int] = (640, 360),
    fps: int = 12,
    silences_ms: Sequence[tuple[int, int]] = QUIET,
) -> list[TruthWindow]:
    pictures = path.with_name(f"{path.stem}-pictures.mp4")
    truth = write_face_video(pictures, appearances, duration_ms=duration_ms, size=size, fps=fps)
    add_soundtrack(pictures, hum(duration_ms, silences_ms), path)
    os.unlink(pictures)
    return truth


def hum(duration_ms: int, silences_ms: Sequence[tuple[int, int]]) -> np.ndarray:
    """A quiet 220 Hz hum with a little noise, stereo at 48 kHz, silent during `silences_ms`."""
    t = np.arange(duration_ms * RATE // 1000) / RATE
    noise = np.random.default_rng(5).normal(0, 0.01, t.size)
    sound = (HUM_LEVEL * np.sin(2 * np.pi * HUM_HZ * t) + noise).astype(np.float32)
    for start, end in silences_ms:
        sound[start * RATE // 1000 : end * RATE // 1000] = 0
    return np.stack([sound, sound])


def add_soundtrack(video: Path, samples: np.ndarray, out: Path) -> None:
    """`video`'s pictures (copied, not re-encoded) with `samples` as AAC beside them."""
    with av.open(str(video)) as source, av.open(str(out), "w") as target:
        pictures = source.streams.video[0]
        copied = target.add_stream_from_template(pictures)
        sound = target.add_stream("aac", rate=RATE)
        sound.layout = "stereo"
        written = 0
        for packet in source.demux(pictures):
            if packet.dts is None:
                continue
            packet.stream = copied
            target.mux(packet)
            until = min(
                samples.shape[1], round(float(packet.pts * pictures.time_base) * RATE) + RATE
            )
            while written < until:
                chunk = np.ascontiguousarray(samples[:, written : min(until, written + 4096)])
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = RATE, written
                frame.time_base = Fraction(1, RATE)
                target.mux(sound.encode(frame))
                written += chunk.shape[1]
        while written < samples.shape[1]:
            chunk = np.ascontiguousarray(samples[:, written : written + 4096])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = RATE, written
            frame.time_base = Fraction(1, RATE)
            target.mux(sound.encode(frame))
            written += chunk.shape[1]
        target.mux(sound.encode(None))


__all__ = ["ASTRONAUT", "LFW", "TWO_PEOPLE", "write_two_people_video"]
