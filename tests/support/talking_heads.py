"""Talking-head test videos for the local engine's render: face cards, a frame marker, speech-like
syllables, and the measures the render tests read back (frames, mouth change, envelopes)."""

from __future__ import annotations

import wave
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

SIZE = (640, 360)
FPS = 25
RATE = 48_000
VIDEO_TONE_HZ = 220.0
VIDEO_TONE_AMPLITUDE = 0.2
MARKER_ROWS = slice(4, 12)  # above the face cards

# --- media -------------------------------------------------------------------------------------


def face_card(mirrored: bool = False) -> np.ndarray:
    """The astronaut's face (a real photograph); mirrored, it is a second face in the frame."""
    from skimage import data

    card = data.astronaut()[30:230, 120:320]
    return np.ascontiguousarray(card[:, ::-1] if mirrored else card)


def still_frame(size: tuple[int, int], centres: tuple[float, ...]) -> np.ndarray:
    """A grey-blue gradient with one face card centred at each x fraction in `centres`."""
    width, height = size
    ramp = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    frame = np.broadcast_to(ramp * np.array([0.9, 1.0, 1.1]), (height, width, 3))
    frame = frame.astype(np.uint8).copy()
    side = int(height * 0.6)
    for number, centre in enumerate(centres):
        card = Image.fromarray(face_card(mirrored=number % 2 == 1)).resize((side, side))
        left, top = int(centre * width) - side // 2, (height - side) // 2
        frame[top : top + side, left : left + side] = np.asarray(card)
    return frame


def tone(t: np.ndarray, hz: float, amplitude: float) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * hz * t)


def syllables(t: np.ndarray) -> np.ndarray:
    """Voiced syllables: harmonics of 150 Hz under an opening-and-closing envelope with pauses,
    louder and softer phrases, like speech at about three syllables a second."""
    envelope = np.clip(np.sin(2 * np.pi * 1.7 * t), 0, None) ** 1.5
    envelope *= 0.5 + 0.5 * np.sin(2 * np.pi * 0.45 * t) ** 2
    voice = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 8))
    return 0.35 * envelope * voice / 2.6


def write_face_video(
    path: Path,
    *,
    duration_ms: int = 4000,
    centres: tuple[float, ...] = (0.27, 0.73),
    with_sound: bool = True,
    size: tuple[int, int] = SIZE,
) -> Path:
    """An H.264 MP4 of still faces; its sound (AAC) is a 220 Hz tone at 0.2.

    A bright mark moves 4 px to the right along the top edge each frame (`frame_marker`), so
    a test can tell which source frame an output frame shows.
    """
    image = still_frame(size, centres)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = *size, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "18"}
        sound = None
        if with_sound:
            sound = container.add_stream("aac", rate=RATE)
            sound.layout = "stereo"
        for number in range(duration_ms * FPS // 1000):
            image[MARKER_ROWS] = 30
            image[MARKER_ROWS, 4 * number + 2 : 4 * number + 6] = 250
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = number, Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if sound is not None:
            t = np.arange(duration_ms * RATE // 1000) / RATE
            samples = tone(t, VIDEO_TONE_HZ, VIDEO_TONE_AMPLITUDE).astype(np.float32)
            _encode_audio(container, sound, np.stack([samples, samples]))
    return path


def _encode_audio(container, stream, samples: np.ndarray) -> None:
    for start in range(0, samples.shape[1], 1024):
        chunk = np.ascontiguousarray(samples[:, start : start + 1024])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate, frame.pts = RATE, start
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_wav(path: Path, signal, duration_ms: int, rate: int = 22_050) -> Path:
    """A 16-bit mono WAV of `signal(t)` (t in seconds) at a rate unlike the output's 48 kHz."""
    t = np.arange(duration_ms * rate // 1000) / rate
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((signal(t) * 32767).astype("<i2").tobytes())
    return path


def frame_marker(frame: np.ndarray) -> int:
    """Which source frame `frame` shows, read from the moving mark along the top edge."""
    strip = frame[MARKER_ROWS].astype(np.float32).mean(axis=(0, 2))
    return int(np.argmax(np.convolve(strip, np.ones(4), mode="valid"))) // 4


def decode_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def mouth_area(box: tuple[int, int, int, int]) -> tuple[slice, slice]:
    """Rows and columns around a face box's mouth and chin, where the warp may act."""
    left, top, right, bottom = box
    height = bottom - top
    return slice(top + int(0.55 * height), bottom + int(0.45 * height)), slice(left, right)


# Re-encoding alone changes a face's pixels by about 1-2 levels on average: below this, a
# region did not move.
CODEC_NOISE = 2.5


def mean_change(output: np.ndarray, source: np.ndarray, area: tuple[slice, slice]) -> float:
    return float(np.abs(output[area].astype(np.int16) - source[area]).mean())


def frame_envelope(signal, *, insert_ms: int, start_ms: int, end_ms: int, frames: int):
    """RMS of the inserted clip over each video frame (0 outside the clip's window)."""
    envelope = np.zeros(frames)
    for number in range(frames):
        t_ms = number * 1000 / FPS
        clip_ms = t_ms - insert_ms + start_ms
        if start_ms <= clip_ms < end_ms:
            t = clip_ms / 1000 + (np.arange(RATE // FPS) - RATE // FPS / 2) / RATE
            envelope[number] = np.sqrt(np.mean(signal(t) ** 2))
    return envelope


# --- fixtures ----------------------------------------------------------------------------------
