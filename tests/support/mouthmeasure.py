"""Measures of a lip-synced mouth on real faces, shared by the tests and the render benchmark.

All of them compare a result frame with its source frame:
- where the change is: the share of the absolute change that falls inside the lips (dilated)
  and the jaw under them, with room for the jaw's drop;
- the opening: the pixels that became clearly darker than the source around the mouth (the
  inside of an opened mouth), as a height (its deepest column) and a width (columns it spans);
- the lips as dlib's landmark model sees them in the result (an independent detector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from projects.engines.local import dlibmodels

Box = tuple[int, int, int, int]

# The lips' outline is dilated by this share of the mouth's width.
LIP_MARGIN_PER_WIDTH = 0.2
# The jaw may drop by up to this share of the mouth's width (mouth.MAX_DROP_PER_WIDTH is 0.45).
JAW_ROOM_PER_WIDTH = 0.5
# A pixel is inside an opened mouth when it became this much darker than the source.
# (and at least DARKER_BY levels: codec noise on dark clothes is no opening).
DARKER_RATIO = 0.6
DARKER_BY = 30.0
DARK_LUMA = 110.0

OUTER_LIP = list(range(48, 60))
JAW_UNDER_LIPS = [*range(4, 13), 54, 55, 56, 57, 58, 59, 48]


def landmarks(frame: np.ndarray, box: Box) -> np.ndarray:
    """dlib's 68 landmarks of the face in `box`, (68, 2) frame pixels."""
    return dlibmodels.landmark_array(dlibmodels.landmarks(frame, box))


def mouth_width(points: np.ndarray) -> float:
    return float(np.hypot(*(points[54] - points[48])))


def lip_and_jaw_mask(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Pixels of the outer lips and of the jaw under them, dilated, with the jaw's drop below."""
    height, width = shape[:2]
    outline = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(outline)
    for group in (OUTER_LIP, JAW_UNDER_LIPS):
        draw.polygon([tuple(point) for point in points[group]], fill=1)
    mask = np.asarray(outline, dtype=bool)
    size = mouth_width(points)
    radius = max(1, round(LIP_MARGIN_PER_WIDTH * size))
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    mask = ndimage.binary_dilation(mask, structure=x * x + y * y <= radius * radius)
    room = max(1, round(JAW_ROOM_PER_WIDTH * size))
    downwards = np.zeros((2 * room + 1, 1), dtype=bool)
    downwards[room:] = True  # the structuring element's lower half moves pixels down
    return ndimage.binary_dilation(mask, structure=downwards)


def change_inside_share(
    pairs: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> float:
    """Share of the summed absolute change inside the masks, over (source, result, mask)s."""
    inside = total = 0.0
    for source, result, mask in pairs:
        change = np.abs(result.astype(np.int16) - source.astype(np.int16)).sum(axis=2)
        total += float(change.sum())
        inside += float(change[mask].sum())
    return inside / total if total else 1.0


@dataclass(frozen=True)
class Opening:
    """The opened inside of a mouth in a result frame, px (0 when closed)."""

    width: float
    height: float

    @property
    def ratio(self) -> float:
        return self.width / self.height if self.height else float("inf")


def _luma(image: np.ndarray) -> np.ndarray:
    return image[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)


def opening_mask(source: np.ndarray, result: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Frame pixels of the dark opening of the mouth whose source landmarks are `points`:
    what became clearly darker around the mouth, under the lower lip's inner edge in the
    source (where an opened mouth shows its inside; dark corners of a smile that only moved
    across are not an opening)."""
    size = mouth_width(points)
    left, right = points[48, 0] - 0.3 * size, points[54, 0] + 0.3 * size
    top, bottom = points[50:53, 1].min() - 0.2 * size, points[8, 1] + 0.6 * size
    rows = slice(max(0, int(top)), int(bottom) + 1)
    columns = slice(max(0, int(left)), int(right) + 1)
    before, after = _luma(source[rows, columns]), _luma(result[rows, columns])
    inner_lower = points[[60, 67, 66, 65, 64]]
    xs = np.arange(columns.start, columns.start + before.shape[1])
    edge = np.interp(xs, inner_lower[:, 0], inner_lower[:, 1])
    ys = np.arange(rows.start, rows.start + before.shape[0])[:, None]
    dark = (after < DARKER_RATIO * before) & (after < DARK_LUMA) & (before - after > DARKER_BY)
    dark &= ys >= edge[None, :] - 1
    # Single stray pixels (codec noise on a dark edge) are not an opening.
    dark = ndimage.binary_opening(dark, structure=np.ones((2, 2), dtype=bool))
    mask = np.zeros(source.shape[:2], dtype=bool)
    mask[rows, columns] = dark
    return mask


def opening(source: np.ndarray, result: np.ndarray, points: np.ndarray) -> Opening:
    """The dark opening's size: its deepest column, and the columns it spans."""
    depth = opening_mask(source, result, points).sum(axis=0)
    height = float(depth.max())
    if height == 0:
        return Opening(0.0, 0.0)
    width = float((depth >= max(1.0, 0.2 * height)).sum())
    return Opening(width, height)


def lip_gap(points: np.ndarray) -> float:
    """The inner lips' gap at the middle (landmarks 62 and 66) per mouth width."""
    return float(np.hypot(*(points[66] - points[62]))) / mouth_width(points)


def pearson(a: Sequence[float], b: Sequence[float]) -> float:
    return float(np.corrcoef(np.asarray(a, float), np.asarray(b, float))[0, 1])


# --- the before/after strip --------------------------------------------------------------------


def mouth_crop(frame: np.ndarray, points: np.ndarray, height: int = 120) -> np.ndarray:
    """A crop around the lips and chin of the face with source landmarks `points`."""
    size = mouth_width(points)
    centre = (points[48] + points[54]) / 2
    left, right = centre[0] - 1.1 * size, centre[0] + 1.1 * size
    top, bottom = centre[1] - 0.7 * size, points[8, 1] + 0.35 * size
    crop = Image.fromarray(frame).crop((int(left), int(top), int(right), int(bottom)))
    width = round(height * crop.width / max(crop.height, 1))
    return np.asarray(crop.resize((width, height), Image.Resampling.LANCZOS))


def before_after_strip(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    points: Callable[[int], np.ndarray],
    path: Path,
    *,
    crop_height: int = 120,
) -> Path:
    """A PNG with the source mouth crops on the top row and the results under them."""
    columns = []
    for number, (source, result) in enumerate(pairs):
        where = points(number)
        top, bottom = mouth_crop(source, where, crop_height), mouth_crop(result, where, crop_height)
        gap = np.full((2, top.shape[1], 3), 255, dtype=np.uint8)
        columns.append(np.concatenate([top, gap, bottom], axis=0))
        columns.append(np.full((columns[-1].shape[0], 2, 3), 255, dtype=np.uint8))
    strip = np.concatenate(columns[:-1], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path, optimize=True)
    return path
