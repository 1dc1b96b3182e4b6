"""Test media for cutting, clips, cut hints and assembly: real files written with PyAV.

`write_numbered_video` shows each frame's number as a row of black and white blocks (so a test
can read which source frame an output frame is), scenes of different colours (shot changes),
and a tone as its sound with silent gaps. `speech_like` makes a voice-like signal, different
for each seed, whose position a cross-correlation finds unambiguously.
"""

from __future__ import annotations

import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

RATE = 48_000
BITS = 12
BLOCK = 16
TONE_HZ = 330.0
TONE_LEVEL = 0.2
SCENE_COLOURS = ((40, 90, 160), (180, 120, 60), (60, 150, 80), (150, 60, 140))


def write_numbered_video(
    path: Path,
    *,
    frame_count: int,
    fps: int | Fraction = 25,
    size: tuple[int, int] = (320, 240),
    scene_starts: Sequence[int] = (),
    silences_ms: Sequence[tuple[int, int]] = (),
    with_sound: bool = True,
) -> Path:
    """An H.264 + AAC MP4 of `frame_count` numbered frames; a new scene (another background
    colour) begins at each frame of `scene_starts`; the sound is a tone, silent during
    `silences_ms`."""
    fps = Fraction(fps)
    width, height = size
    duration_s = frame_count / fps
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "16"}
        sound = None
        if with_sound:
            sound = container.add_stream("aac", rate=RATE)
            sound.layout = "stereo"
        samples = soundtrack(float(duration_s), silences_ms) if with_sound else None
        written = 0
        for number in range(frame_count):
            scene = sum(1 for start in scene_starts if number >= start)
            image = numbered_picture(number, size, SCENE_COLOURS[scene % len(SCENE_COLOURS)])
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = number, 1 / fps
            container.mux(video.encode(frame))
            if sound is not None:
                until = round((number + 1) / fps * RATE)
                written = _encode(container, sound, samples[:, written:until], written)
        container.mux(video.encode(None))
        if sound is not None:
            _encode(container, sound, samples[:, written:], written)
            container.mux(sound.encode(None))
    return path


def numbered_picture(number: int, size: tuple[int, int], colour) -> np.ndarray:
    width, height = size
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = colour
    # A soft gradient so the picture is not flat (encoders treat flat frames specially).
    image[:, :, 1] = np.clip(image[:, :, 1] + np.linspace(0, 40, width)[None, :], 0, 255)
    for bit in range(BITS):
        value = 255 if number >> bit & 1 else 0
        image[4 : 4 + BLOCK, 4 + bit * BLOCK : 4 + (bit + 1) * BLOCK] = value
    return image


def read_number(image: np.ndarray) -> int:
    """The frame number written by `numbered_picture`."""
    number = 0
    for bit in range(BITS):
        block = image[8:BLOCK, 8 + bit * BLOCK : bit * BLOCK + BLOCK]
        if block.mean() > 128:
            number |= 1 << bit
    return number


def soundtrack(duration_s: float, silences_ms: Sequence[tuple[int, int]]) -> np.ndarray:
    t = np.arange(round(duration_s * RATE)) / RATE
    tone = (TONE_LEVEL * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    for start, end in silences_ms:
        tone[round(start * RATE / 1000) : round(end * RATE / 1000)] = 0
    return np.stack([tone, tone])


def _encode(container, stream, samples: np.ndarray, pts: int) -> int:
    if samples.shape[1]:
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format="fltp", layout="stereo"
        )
        frame.sample_rate, frame.pts, frame.time_base = RATE, pts, Fraction(1, RATE)
        container.mux(stream.encode(frame))
    return pts + samples.shape[1]


def speech_like(seed: int, duration_ms: int, rate: int = RATE) -> np.ndarray:
    """A voice: harmonics of a pitch that glides, under syllables of random length and
    loudness. Mono float32 at `rate`; no two seeds look alike to a cross-correlation."""
    rng = np.random.default_rng(seed)
    count = duration_ms * rate // 1000
    t = np.arange(count) / rate
    pitch = 110 + 60 * rng.random() + 15 * np.sin(2 * np.pi * rng.uniform(0.3, 0.9) * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 8)) / 2.6
    envelope = np.zeros(count)
    cursor = 0
    while cursor < count:
        syllable = int(rng.uniform(0.12, 0.3) * rate)
        pause = int(rng.uniform(0.03, 0.12) * rate)
        shape = np.sin(np.linspace(0, np.pi, syllable)) ** 1.5 * rng.uniform(0.4, 1.0)
        envelope[cursor : cursor + syllable] = shape[: count - cursor]
        cursor += syllable + pause
    return (0.4 * envelope * voice).astype(np.float32)


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """A 16-bit mono WAV."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def decode_pictures(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if error == 0 else 10 * np.log10(255.0**2 / error)


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types, in file order (moov before mdat means faststart)."""
    data = path.read_bytes()
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append(data[offset + 4 : offset + 8].decode("latin-1"))
        if size == 1:
            size = int.from_bytes(data[offset + 8 : offset + 16], "big")
        if size < 8:
            break
        offset += size
    return boxes


def best_lag_ms(signal: np.ndarray, reference: np.ndarray, around: int, reach: int) -> float:
    """Where `reference` best matches inside `signal` near sample `around` (± `reach`
    samples), as ms from `around`, by normalised cross-correlation (FFT)."""
    from scipy.signal import correlate

    lo = max(0, around - reach)
    window = signal[lo : around + reach + reference.size].astype(np.float64)
    scores = correlate(window, reference.astype(np.float64), mode="valid", method="fft")
    power = np.concatenate([[0.0], np.cumsum(window**2)])
    energy = np.sqrt(power[reference.size :] - power[: -reference.size]) + 1e-9
    best = int(np.argmax(scores / energy[: scores.size]))
    return (lo + best - around) * 1000 / RATE
