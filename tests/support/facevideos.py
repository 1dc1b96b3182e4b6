"""Synthetic test videos made from real face photographs, with their ground truth.

Two different real people are available offline: the astronaut Eileen Collins
(scikit-image's public-domain `astronaut.png`) and a face from Labeled Faces in the Wild
(scikit-image's `lfw_subset.npy`, 25x25 px, upscaled). Each is pasted as a photo card onto a
plain background during known windows; the ground truth is the window in which the face is
really on screen, measured on the frame grid the way a viewer sees it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from tests.support.mediagen import stored_on_its_side, stored_size

ASTRONAUT = "astronaut"
LFW = "lfw"
# The LFW face whose embedding is furthest from the astronaut's (distance ≈ 0.93 > 0.6).
LFW_INDEX = 0


@dataclass(frozen=True)
class Appearance:
    """One face on screen from `start_ms` (inclusive) to `end_ms` (exclusive).

    `center` is where the card's centre starts, as fractions of the frame; it drifts by
    `drift_px_per_s` to the right so box following is exercised. During each `(start, end)` in
    `turned_away` the face is squeezed sideways, as a head turned in profile looks to a frontal
    detector.
    """

    face: str
    start_ms: int
    end_ms: int
    center: tuple[float, float] = (0.5, 0.5)
    height_frac: float = 0.6
    drift_px_per_s: float = 0.0
    turned_away: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class TruthWindow:
    """When a face is really visible: first frame shown to the end of the last frame shown."""

    face: str
    start_ms: int
    end_ms: int


@functools.cache
def face_card(face: str) -> np.ndarray:
    """A square RGB photo of one real person, face roughly centred and frontal."""
    if face == ASTRONAUT:
        from skimage import data

        return data.astronaut()[30:230, 120:320].copy()
    if face == LFW:
        return _lfw_card()
    raise ValueError(f"unknown face {face!r}")


def _lfw_card() -> np.ndarray:
    from skimage import data

    lfw = np.load(Path(data.__file__).parent / "lfw_subset.npy")
    gray = (lfw[LFW_INDEX] * 255).astype(np.uint8)
    big = np.asarray(Image.fromarray(gray).resize((180, 180), Image.Resampling.BICUBIC))
    # The LFW crop is tight around the face; edge padding gives the detector the context
    # (hair, neck) it expects around a face.
    padded = np.pad(big, 30, mode="edge")
    return np.repeat(padded[:, :, None], 3, axis=2)


def write_face_video(
    path: str | os.PathLike,
    appearances: Sequence[Appearance],
    *,
    duration_ms: int,
    size: tuple[int, int] = (640, 360),
    fps: int = 12,
    crf: int = 23,
    rotation: int = 0,
) -> list[TruthWindow]:
    """Encode an H.264 MP4 showing `appearances`; return each appearance's true window.

    The true window is snapped to the frame grid: it starts at the first frame showing the
    face and ends when the frame after the last one showing it comes up. With `rotation`
    (degrees counter-clockwise) the pictures are stored on their side, as a phone stores them,
    and the file asks players to turn them back to `size`.
    """
    width, height = size
    background = _background(width, height)
    frame_count = duration_ms * fps // 1000
    shown: dict[int, list[int]] = {index: [] for index in range(len(appearances))}
    with av.open(os.fspath(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = stored_size(size, rotation)
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for number in range(frame_count):
            t_ms = number * 1000 // fps
            image = background.copy()
            for index, appearance in enumerate(appearances):
                if appearance.start_ms <= t_ms < appearance.end_ms:
                    _paste_card(image, appearance, t_ms)
                    shown[index].append(number)
            frame = av.VideoFrame.from_ndarray(stored_on_its_side(image, rotation), "rgb24")
            frame.pts, frame.time_base = number, Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return [
        _truth_window(appearance.face, shown[index], fps)
        for index, appearance in enumerate(appearances)
        if shown[index]
    ]


def _truth_window(face: str, frame_numbers: list[int], fps: int) -> TruthWindow:
    return TruthWindow(
        face=face,
        start_ms=round(frame_numbers[0] * 1000 / fps),
        end_ms=round((frame_numbers[-1] + 1) * 1000 / fps),
    )


def _background(width: int, height: int) -> np.ndarray:
    """A soft grey-blue gradient with light grain: plain enough to hold no face-like pattern."""
    rng = np.random.default_rng(7)
    ramp = np.linspace(90, 150, width, dtype=np.float32)[None, :, None]
    tint = np.array([0.9, 1.0, 1.1], dtype=np.float32)[None, None, :]
    grain = rng.normal(0, 3, size=(height, width, 1)).astype(np.float32)
    return np.clip(ramp * tint + grain, 0, 255).astype(np.uint8)


def card_box(appearance: Appearance, t_ms: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where the face card is at `t_ms`: left, top, right, bottom in frame pixels."""
    frame_w, frame_h = size
    side = int(frame_h * appearance.height_frac)
    card_w = side
    if any(start <= t_ms < end for start, end in appearance.turned_away):
        card_w = max(8, side // 4)
    drift = appearance.drift_px_per_s * (t_ms - appearance.start_ms) / 1000
    cx = int(appearance.center[0] * frame_w + drift)
    cy = int(appearance.center[1] * frame_h)
    left = min(max(cx - card_w // 2, 0), frame_w - card_w)
    top = min(max(cy - side // 2, 0), frame_h - side)
    return left, top, left + card_w, top + side


def _paste_card(image: np.ndarray, appearance: Appearance, t_ms: int) -> None:
    frame_h, frame_w = image.shape[:2]
    left, top, right, bottom = card_box(appearance, t_ms, (frame_w, frame_h))
    card = Image.fromarray(face_card(appearance.face)).resize((right - left, bottom - top))
    image[top:bottom, left:right] = np.asarray(card)
