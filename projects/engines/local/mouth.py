"""The local engine's mouth: the lower lip and jaw drop, the lips take the sound's shape, and
the opening shows a mouth's inside.

Everything is worked out in the mouth's own coordinates: u runs across, from the left lip
corner to the right, and v runs down, both in pixels from the midpoint of the lip corners. The
face's dlib landmarks (68-point layout) give the lines that matter: where the lower lip's
inner edge is (the split line: everything above it, the upper lip and any teeth the person
already shows, stays put), the lower lip's outer edge, and the jaw line.

The warp is an inverse map: each output pixel reads the source at a displaced point. Under
the split line every column of the lower lip is moved down rigidly by the opening's depth
there (so its texture is carried, not stretched); lower down the displacement turns into the
jaw's drop, the same across the chin, and below the jaw line it fades out, so the chin slides
over the neck. Across, the lips are narrowed (rounded sounds) or widened (spread sounds) about
the mouth's centre, fading out over the cheeks. The gap between the split line and the moved
lower lip is painted as the inside of a mouth: dark, darker towards the back, with a hint of
upper teeth when it is open wide. Nothing outside the lips, the jaw and the cheek next to the
lip corners is touched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from projects.engines.local import sounds

Box = tuple[int, int, int, int]  # left, top, right, bottom in frame pixels

# The widest jaw drop, as a fraction of the mouth's width (a loud, open "a").
MAX_DROP_PER_WIDTH = 0.45

# dlib's 68-point layout: the jaw line under the mouth, and the lips.
JAW = tuple(range(4, 13))
LEFT_CORNER, RIGHT_CORNER = 48, 54
UPPER_OUTER = tuple(range(48, 55))
LOWER_OUTER = (48, 59, 58, 57, 56, 55, 54)
UPPER_INNER = tuple(range(60, 65))
LOWER_INNER = (60, 67, 66, 65, 64)
LIP_AND_JAW = JAW + tuple(range(48, 68))

# Where the landmarks above sit in a frontal face's detector box (left, top = 0, 0; right,
# bottom = 1, 1), for when the landmark model fails on a frame. Measured on a real face.
_TEMPLATE = np.array(
    [
        [0.09, 0.88], [0.18, 1.0], [0.3, 1.09], [0.43, 1.15], [0.5, 1.17], [0.57, 1.15],
        [0.7, 1.09], [0.82, 1.0], [0.91, 0.88],
        [0.28, 0.73], [0.38, 0.72], [0.46, 0.72], [0.5, 0.73], [0.54, 0.72], [0.62, 0.72],
        [0.72, 0.73], [0.62, 0.85], [0.56, 0.89], [0.5, 0.9], [0.44, 0.89], [0.38, 0.85],
        [0.31, 0.74], [0.44, 0.76], [0.5, 0.77], [0.56, 0.76], [0.69, 0.74], [0.56, 0.8],
        [0.5, 0.81], [0.44, 0.8],
    ]
)  # fmt: skip


@dataclass(frozen=True)
class Pose:
    """A mouth shape: jaw drop at full loudness (a fraction of the widest), how much wider or
    narrower the lips get, and how wide the opening is (a fraction of the lips' inner width)."""

    height: float
    width: float
    span: float


# One pose per sound class, in sounds.CLASSES order. Open: tall and wide; round: narrow and
# nearly as tall as wide; spread: wide and low; closed: the lips meet.
POSES = {
    sounds.CLOSED: Pose(height=0.0, width=0.97, span=0.85),
    sounds.OPEN: Pose(height=1.0, width=1.04, span=0.95),
    sounds.ROUND: Pose(height=0.9, width=0.8, span=0.5),
    sounds.SPREAD: Pose(height=0.3, width=1.12, span=1.0),
    sounds.NEUTRAL: Pose(height=0.55, width=1.0, span=0.88),
}
_POSE_TABLE = np.array([[p.height, p.width, p.span] for _, p in sorted(POSES.items())])

# Colours of the inside, lit as by a face of average brightness (scaled by the face's light).
CAVITY_EDGE_RGB = np.array([96.0, 34.0, 38.0], dtype=np.float32)
CAVITY_BACK_RGB = np.array([22.0, 6.0, 8.0], dtype=np.float32)
TONGUE_RGB = np.array([150.0, 62.0, 66.0], dtype=np.float32)
TEETH_RGB = np.array([226.0, 220.0, 206.0], dtype=np.float32)
# Upper teeth show up to this much of the mouth's width below the upper lip, when open wide.
TEETH_HEIGHT_PER_WIDTH = 0.09


@dataclass(frozen=True)
class MouthMotion:
    """What one frame asks of the mouth, in pixels-free terms."""

    drop: float  # jaw drop as a fraction of the mouth's width
    width: float  # across scale of the lips (1 = as in the source)
    span: float  # opening half-width as a fraction of the lips' inner half-width

    @property
    def still(self) -> bool:
        return self.drop < 0.004 and abs(self.width - 1) < 0.004


def motion_for(openness: float, classes: np.ndarray) -> MouthMotion:
    """The mouth's motion for a frame's openness (0-1) and sound-class weights."""
    height, width, span = np.asarray(classes, dtype=np.float64) @ _POSE_TABLE
    # The lips take their shape as soon as a sound starts; the jaw follows the loudness.
    shaping = min(1.0, 3 * openness)
    return MouthMotion(
        drop=openness * height * MAX_DROP_PER_WIDTH,
        width=1 + (width - 1) * shaping,
        span=span,
    )


# --- where the mouth is ------------------------------------------------------------------------


class MouthGeometry:
    """The lip and jaw landmarks of one face in one frame, and the lines derived from them."""

    def __init__(self, points: np.ndarray) -> None:
        """`points`: (len(LIP_AND_JAW), 2) frame pixels, in LIP_AND_JAW order."""
        self.points = np.asarray(points, dtype=np.float64)
        at = {index: self.points[row] for row, index in enumerate(LIP_AND_JAW)}
        span = at[RIGHT_CORNER] - at[LEFT_CORNER]
        self.width = max(float(np.hypot(*span)), 1e-6)
        self.across = span / self.width
        self.down = np.array([-self.across[1], self.across[0]])
        self.origin = (at[LEFT_CORNER] + at[RIGHT_CORNER]) / 2

        def line(indices: tuple[int, ...]) -> np.ndarray:
            uv = np.array([self.to_mouth(at[index]) for index in indices])
            return uv[np.argsort(uv[:, 0], kind="stable")]

        self.upper_outer = line(UPPER_OUTER)
        self.lower_outer = line(LOWER_OUTER)
        self.upper_inner = line(UPPER_INNER)
        self.lower_inner = line(LOWER_INNER)
        self.jaw = line(JAW)

    @classmethod
    def from_landmarks(cls, landmarks: np.ndarray) -> MouthGeometry:
        """From dlib's 68 landmarks, (68, 2) frame pixels."""
        return cls(np.asarray(landmarks, dtype=np.float64)[list(LIP_AND_JAW)])

    @classmethod
    def from_box(cls, box: Box) -> MouthGeometry:
        """A fallback from the face box alone, in a frontal face's usual proportions."""
        left, top, right, bottom = box
        return cls(_TEMPLATE * [right - left, bottom - top] + [left, top])

    def blended(self, newer: MouthGeometry, weight: float) -> MouthGeometry:
        return MouthGeometry((1 - weight) * self.points + weight * newer.points)

    def to_mouth(self, xy: np.ndarray) -> np.ndarray:
        offset = np.asarray(xy, dtype=np.float64) - self.origin
        return np.array([offset @ self.across, offset @ self.down])

    @property
    def inner_corners(self) -> tuple[float, float]:
        """u of the lips' inner corners (left, right)."""
        return float(self.lower_inner[0, 0]), float(self.lower_inner[-1, 0])

    @property
    def source_gap(self) -> float:
        """How far apart the inner lips already are at the middle, px (teeth may show there)."""
        centre = sum(self.inner_corners) / 2
        return max(0.0, _line_at(self.lower_inner, centre) - _line_at(self.upper_inner, centre))

    def plausible_for(self, box: Box) -> bool:
        """Landmarks on a blurred or turned face can collapse; the box is then a better guess."""
        face_width = box[2] - box[0]
        inner_left, inner_right = self.inner_corners
        return 0.15 * face_width <= self.width <= 0.8 * face_width and inner_right > inner_left


def _line_at(line: np.ndarray, u: np.ndarray | float) -> np.ndarray:
    """The v of a landmark line at `u` (held level beyond its ends)."""
    return np.interp(u, line[:, 0], line[:, 1]).astype(np.float32)


# --- the warp ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Region:
    """The frame rectangle the warp may touch, and its pixels in mouth coordinates."""

    top: int
    left: int
    bottom: int
    right: int
    u: np.ndarray
    v: np.ndarray


def warp_mouth(image: np.ndarray, mouth: MouthGeometry, motion: MouthMotion) -> None:
    """Move and paint the mouth of `image` (RGB uint8, changed in place) as `motion` asks."""
    if motion.still:
        return
    width = mouth.width
    drop = motion.drop * width
    region = _region(image.shape, mouth, drop)
    if region is None:
        return
    # The lips' columns (narrowed or widened) decide the opening and the lower lip's drop;
    # the drop then says which source row each pixel reads, and the lips' shape applies there.
    u_lips = _across_source(region.u, None, mouth, motion)
    down_shift, opening, split = _jaw_field(u_lips, region.u, region.v, mouth, motion, drop)
    u_source = _across_source(region.u, region.v - down_shift, mouth, motion)
    moving = (np.abs(u_source - region.u) > 0.02) | (down_shift > 0.02)
    index = np.flatnonzero(moving)
    if index.size == 0:
        return
    patch = image[region.top : region.bottom, region.left : region.right]
    planes = patch.transpose(2, 0, 1).reshape(patch.shape[2], -1).astype(np.float32)
    light = _FaceLight.of(planes)
    warped = _sample(
        planes,
        patch.shape[1],
        region,
        mouth,
        u_source.ravel()[index],
        (region.v - down_shift).ravel()[index],
    )
    inside = _Inside(
        u=u_lips.ravel()[index],
        v=region.v.ravel()[index],
        split=split.ravel()[index],
        opening=opening.ravel()[index],
    )
    inside.paint(warped, mouth, motion, light)
    planes[:, index] = warped
    patch[...] = (
        np.clip(planes + 0.5, 0, 255)
        .astype(np.uint8)
        .reshape(patch.shape[2], *patch.shape[:2])
        .transpose(1, 2, 0)
    )


def _region(shape: tuple[int, ...], mouth: MouthGeometry, drop: float) -> _Region | None:
    """The rectangle around the lips and the jaw (with room for its drop), in frame pixels."""
    width = mouth.width
    top = float(mouth.upper_outer[:, 1].min()) - 0.3 * width
    bottom = float(mouth.jaw[:, 1].max()) + 2 * drop + 0.15 * width
    side = 1.0 * width
    corners = [
        mouth.origin + a * mouth.across + d * mouth.down
        for a in (-side, side)
        for d in (top, bottom)
    ]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    height, frame_width = shape[:2]
    left, right = max(0, math.floor(min(xs))), min(frame_width, math.ceil(max(xs)) + 1)
    top_px, bottom_px = max(0, math.floor(min(ys))), min(height, math.ceil(max(ys)) + 1)
    if right - left < 4 or bottom_px - top_px < 4:
        return None
    gy, gx = np.mgrid[top_px:bottom_px, left:right].astype(np.float32)
    dx, dy = gx - np.float32(mouth.origin[0]), gy - np.float32(mouth.origin[1])
    across, down = mouth.across.astype(np.float32), mouth.down.astype(np.float32)
    u = dx * across[0] + dy * across[1]
    v = dx * down[0] + dy * down[1]
    return _Region(top_px, left, bottom_px, right, u, v)


def _across_source(
    u: np.ndarray, v_source: np.ndarray | None, mouth: MouthGeometry, motion: MouthMotion
) -> np.ndarray:
    """Where across each output pixel reads: the lips narrowed or widened about the centre.

    The scaling holds over the lips, from the upper lip's top to the lower lip's bottom (as
    in the source: `v_source`, or on the lips' own level when None), and fades out over the
    cheeks and above and below the lips, slowly enough to keep the map one-to-one.
    """
    if abs(motion.width - 1) < 1e-3:
        return u
    width = mouth.width
    band = 1 - _smoothstep((np.abs(u) - 0.4 * width) / (0.45 * width))
    if v_source is not None:
        top = float(mouth.upper_outer[:, 1].min())
        bottom = float(mouth.lower_outer[:, 1].max())
        fade = 0.3 * width
        band = band * (1 - _smoothstep((top - v_source) / fade))
        band = band * (1 - _smoothstep((v_source - bottom) / fade))
    return u * (1 + (1 / motion.width - 1) * band)


def _jaw_field(
    u: np.ndarray,
    u_face: np.ndarray,
    v: np.ndarray,
    mouth: MouthGeometry,
    motion: MouthMotion,
    drop: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How far down each output pixel reads (px), the opening's depth in its column, and the
    split line's v there. `u` is the across position on the (narrowed or widened) lips,
    `u_face` the pixel's own, which the jaw follows."""
    width = mouth.width
    inner_left, inner_right = mouth.inner_corners
    centre, half = (inner_left + inner_right) / 2, (inner_right - inner_left) / 2
    split = _line_at(mouth.lower_inner, np.clip(u, inner_left, inner_right))
    across = (u - centre) / max(half * motion.span, 1.0)
    opening = drop * np.sqrt(np.clip(1 - across * across, 0, 1))
    jaw = drop * (1 - _smoothstep((np.abs(u_face - centre) - 0.45 * width) / (0.5 * width)))
    lip_thickness = np.maximum(_line_at(mouth.lower_outer, u) - split, 1.0)
    # The lower lip moves rigidly; under it the drop turns into the jaw's, over a distance
    # long enough that the map stays one-to-one (the smoothstep's slope is at most 1.5).
    below_lip = v - split - opening - lip_thickness
    turn = 1.6 * np.abs(jaw - opening) + 1.0
    shift = opening + (jaw - opening) * _smoothstep(below_lip / turn)
    # Below the jaw line the chin slides over the neck: the shift fades out there.
    jaw_line = _line_at(mouth.jaw, u_face)
    fade = 0.9 * jaw + 0.12 * width
    shift *= 1 - _smoothstep((v - jaw_line - 0.3 * jaw) / fade)
    shift = np.where(v >= split, shift, 0.0).astype(np.float32)
    return shift, opening.astype(np.float32), split


@dataclass(frozen=True)
class _Inside:
    """The pixels being redrawn: their across position on the lips, v, split line, opening."""

    u: np.ndarray
    v: np.ndarray
    split: np.ndarray
    opening: np.ndarray

    def paint(
        self, pixels: np.ndarray, mouth: MouthGeometry, motion: MouthMotion, light: _FaceLight
    ) -> None:
        """Paint the opening over `pixels` (3, N): the inside, then the upper teeth."""
        below_split = self.v - self.split
        above_lip = self.split + self.opening - self.v
        # One pixel of anti-aliasing on both edges.
        cover = np.clip(below_split + 0.5, 0, 1) * np.clip(above_lip + 0.5, 0, 1)
        cover *= self.opening > 0.5
        painted = np.flatnonzero(cover > 0)
        if painted.size == 0:
            return
        depth = np.clip(
            np.minimum(below_split, above_lip)[painted] / np.maximum(self.opening[painted], 1),
            0,
            0.5,
        )
        inner_left, inner_right = mouth.inner_corners
        centre, half = (inner_left + inner_right) / 2, (inner_right - inner_left) / 2
        across = np.abs(self.u[painted] - centre) / max(half * motion.span, 1.0)
        # Deeper into the mouth (away from the lips, towards the middle) is darker.
        back = _smoothstep(2 * depth) * (1 - across * across)
        colour = CAVITY_EDGE_RGB[:, None] + (CAVITY_BACK_RGB - CAVITY_EDGE_RGB)[:, None] * back
        # The tongue shows at the bottom of an opening that is more than a sliver.
        height = below_split[painted] / np.maximum(self.opening[painted], 1)
        tongue = _smoothstep((height - 0.5) / 0.4) * (1 - across * across)
        tongue *= 0.55 * _smoothstep((self.opening[painted] - 0.08 * mouth.width) / 4)
        colour += (TONGUE_RGB[:, None] - colour) * tongue
        colour = light.lit(colour)
        teeth = self._teeth(painted, mouth, motion)
        if teeth is not None:
            alpha, shade = teeth
            colour += (light.lit(TEETH_RGB[:, None]) * shade - colour) * alpha
        pixels[:, painted] += (colour - pixels[:, painted]) * cover[painted]

    def _teeth(
        self, painted: np.ndarray, mouth: MouthGeometry, motion: MouthMotion
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Coverage and shading of the upper teeth under the split line, when open wide.

        A person who already shows their teeth keeps them (they stay above the split line):
        only the part of the usual height they do not show is drawn.
        """
        width = mouth.width
        wide = _smoothstep((motion.drop - 0.1) / 0.15)
        height = max(0.0, TEETH_HEIGHT_PER_WIDTH * width - mouth.source_gap) * wide
        if height < 0.5:
            return None
        inner_left, inner_right = mouth.inner_corners
        centre, half = (inner_left + inner_right) / 2, (inner_right - inner_left) / 2
        across = (self.u[painted] - centre) / max(0.8 * half * motion.span, 1.0)
        column = height * np.sqrt(np.clip(1 - across * across, 0, 1))
        column = np.minimum(column, 0.45 * self.opening[painted])
        below_split = self.v[painted] - self.split[painted]
        alpha = np.clip(column - below_split + 0.5, 0, 1) * (column > 0.5)
        # Teeth further round the arch are in shadow; their edges are a little translucent.
        shade = (1 - 0.45 * across * across) * (
            1 - 0.2 * np.clip(below_split / np.maximum(column, 1), 0, 1)
        )
        return alpha * 0.92, shade


@dataclass(frozen=True)
class _FaceLight:
    """How brightly and how colourfully the face is shown, so the painted inside matches it
    (a black-and-white picture gets a grey mouth)."""

    brightness: float  # relative to an average face, about 0.5-1.3
    colourfulness: float  # 0 for grey, 1 for an ordinary colour picture

    @classmethod
    def of(cls, planes: np.ndarray) -> _FaceLight:
        luma = 0.299 * planes[0] + 0.587 * planes[1] + 0.114 * planes[2]
        chroma = np.abs(planes[0] - planes[1]) + np.abs(planes[2] - planes[1])
        return cls(
            brightness=float(np.clip(np.median(luma) / 150.0, 0.5, 1.3)),
            colourfulness=float(np.clip(np.median(chroma) / 30.0, 0.0, 1.0)),
        )

    def lit(self, colour: np.ndarray) -> np.ndarray:
        """`colour` (3, N) as this face would show it."""
        grey = 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]
        return (grey + (colour - grey) * self.colourfulness) * self.brightness


def _sample(
    planes: np.ndarray,
    row_length: int,
    region: _Region,
    mouth: MouthGeometry,
    u: np.ndarray,
    v: np.ndarray,
) -> np.ndarray:
    """Bilinear samples (3, N) of the region's channel `planes` (3, pixels; float32) at mouth
    coordinates (u, v), clamped to the region."""
    across, down = mouth.across.astype(np.float32), mouth.down.astype(np.float32)
    x = np.float32(mouth.origin[0] - region.left) + u * across[0] + v * down[0]
    y = np.float32(mouth.origin[1] - region.top) + u * across[1] + v * down[1]
    w, h = row_length, planes.shape[1] // row_length
    x = np.clip(x, 0, w - 1.001)
    y = np.clip(y, 0, h - 1.001)
    x0, y0 = x.astype(np.int32), y.astype(np.int32)
    fx, fy = x - x0, y - y0
    # np.take on flat indices is several times faster than 2-D fancy indexing.
    index = y0 * w + x0
    top_left, top_right = np.take(planes, index, axis=1), np.take(planes, index + 1, axis=1)
    low_left, low_right = np.take(planes, index + w, axis=1), np.take(planes, index + w + 1, axis=1)
    top = top_left + (top_right - top_left) * fx
    bottom = low_left + (low_right - low_left) * fx
    return top + (bottom - top) * fy


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


# --- one face over many frames -----------------------------------------------------------------


class MouthAnimator:
    """Moves one face's mouth frame after frame, smoothing its landmarks between frames."""

    # How far each new frame's landmarks move the smoothed ones (1 = no smoothing).
    SMOOTHING = 0.5

    def __init__(self, locate_landmarks) -> None:
        self.locate_landmarks = locate_landmarks
        self.geometry: MouthGeometry | None = None

    def forget(self) -> None:
        """The face stopped speaking or left: the next frame starts from fresh landmarks."""
        self.geometry = None

    def animate(self, image: np.ndarray, box: Box, motion: MouthMotion) -> None:
        """Move the mouth in `image` (RGB, changed in place) of the face in `box`."""
        found = self._locate(image, box)
        if self.geometry is None:
            self.geometry = found
        else:
            self.geometry = self.geometry.blended(found, self.SMOOTHING)
        warp_mouth(image, self.geometry, motion)

    def _locate(self, image: np.ndarray, box: Box) -> MouthGeometry:
        try:
            geometry = MouthGeometry.from_landmarks(self.locate_landmarks(image, box))
        except (RuntimeError, ValueError, IndexError):
            return MouthGeometry.from_box(box)
        return geometry if geometry.plausible_for(box) else MouthGeometry.from_box(box)
