"""Rendering for the local engine: a preview-quality lip-sync, written as H.264 + AAC MP4.

The video is decoded once and re-encoded; only the frames in which the chosen face speaks are
touched, and in them only a small region around the mouth. There the lower lip and jaw are
pulled down by a smooth displacement field that follows the speech envelope (and widened or
rounded by the spectral centroid), and the opened gap is darkened with a feathered mask, so
no box edge or seam shows. The face is followed with its track's boxes and dlib's mouth
landmarks on every animated frame. Other frames go to the encoder as decoded, which is what
keeps the render faster than real time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from projects.engines.local import audio

Box = tuple[int, int, int, int]  # left, top, right, bottom in source pixels
MouthLocator = Callable[[np.ndarray, Box], np.ndarray]

X264_OPTIONS = {"preset": "veryfast", "crf": "18"}
# Openness below this is drawn as a closed mouth: the frame goes to the encoder untouched.
MIN_VISIBLE_OPENNESS = 0.02
# The widest jaw drop, as a fraction of the mouth's width (a wide-open "a").
MAX_DROP_PER_WIDTH = 0.42
# How much bright/dark sounds widen/narrow the lips at full openness.
MAX_SPREAD = 0.10
# How far each new frame's landmarks move the smoothed mouth geometry (1 = no smoothing).
GEOMETRY_SMOOTHING = 0.5
INNER_MOUTH_RGB = np.array([58.0, 18.0, 24.0], dtype=np.float32)
INNER_MOUTH_OPACITY = 0.88


class FaceTrack(Protocol):
    """What rendering needs of a face track (faces.FaceTrackResult has it)."""

    def box_at(self, t_ms: int) -> Box | None: ...


@dataclass(frozen=True)
class RenderResult:
    duration_ms: int
    width: int
    height: int


class RenderError(Exception):
    """The input could not be rendered (no video track, unreadable file); the message is plain."""


# --- public entry points -----------------------------------------------------------------------


def render_advanced(
    video_path: str | os.PathLike,
    audio_path: str | os.PathLike,
    track: FaceTrack,
    *,
    sound_start_ms: int,
    sound_end_ms: int,
    sound_insert_ms: int,
    sound_volume: float = 1.0,
    original_audio_volume: float = 1.0,
    out_path: str | os.PathLike,
    watermark_out_path: str | os.PathLike | None = None,
    locate_mouth: MouthLocator | None = None,
) -> RenderResult:
    """Lip-sync one face to an audio clip inserted on the video's timeline (the contract's
    advanced lip-sync). The output keeps the video's length; its sound is the contract's mix.
    """
    source = probe_video(video_path)
    clip = _decode_clip(audio_path)
    soundtrack = audio.mix_contract_audio(
        audio.decode_audio(video_path),
        clip,
        sound_start_ms=sound_start_ms,
        sound_end_ms=sound_end_ms,
        sound_insert_ms=sound_insert_ms,
        sound_volume=sound_volume,
        original_audio_volume=original_audio_volume,
        video_duration_ms=source.duration_ms,
    )
    # The mouth follows the clip alone (at unit volume): the video's own sound must not move it.
    speech = audio.mix_contract_audio(
        audio.silence(0),
        clip,
        sound_start_ms=sound_start_ms,
        sound_end_ms=sound_end_ms,
        sound_insert_ms=sound_insert_ms,
        sound_volume=1.0,
        original_audio_volume=0.0,
        video_duration_ms=source.duration_ms,
    )
    frames = _source_frames(video_path, loop_until_ms=None)
    return _render(
        source,
        frames,
        lambda t_ms: track.box_at(t_ms),
        _within(
            audio.speech_features(speech, source.fps_float, source.frame_count + 2),
            source.fps_float,
            start_ms=sound_insert_ms,
            end_ms=sound_insert_ms + sound_end_ms - sound_start_ms,
        ),
        soundtrack,
        out_path,
        watermark_out_path,
        locate_mouth,
        frame_limit=None,
    )


def render_basic(
    video_path: str | os.PathLike,
    audio_path: str | os.PathLike,
    tracks: Sequence[FaceTrack],
    out_path: str | os.PathLike,
    watermark_out_path: str | os.PathLike | None = None,
    *,
    locate_mouth: MouthLocator | None = None,
) -> RenderResult:
    """Lip-sync the whole video to `audio_path` (the contract's basic lip-sync).

    The output lasts as long as the audio: the video loops when the audio is longer and is cut
    when it is shorter. The audio replaces the video's own sound. At each moment the largest
    face on screen speaks.
    """
    source = probe_video(video_path)
    speech = _decode_clip(audio_path)
    duration_ms = audio.audio_duration_ms(speech)
    frame_count = max(1, math.ceil(duration_ms * source.fps_float / 1000))
    output = SourceVideo(source.width, source.height, source.fps, duration_ms, frame_count)
    frames = _source_frames(video_path, loop_until_ms=duration_ms)
    return _render(
        output,
        frames,
        lambda t_ms: _largest_face(tracks, t_ms),
        audio.speech_features(speech, source.fps_float, frame_count + 2),
        speech,
        out_path,
        watermark_out_path,
        locate_mouth,
        frame_limit=frame_count,
    )


def _within(
    speech: audio.SpeechFeatures, fps: float, *, start_ms: int, end_ms: int
) -> audio.SpeechFeatures:
    """The features with the mouth shut outside [start_ms, end_ms): the smoothing's release
    would otherwise let it close a few frames after the clip has ended."""
    times_ms = np.arange(speech.openness.size) * 1000 / fps
    inside = (times_ms >= start_ms) & (times_ms < end_ms)
    return audio.SpeechFeatures(openness=speech.openness * inside, spread=speech.spread * inside)


# --- probing and decoding ----------------------------------------------------------------------


@dataclass(frozen=True)
class SourceVideo:
    width: int  # even: H.264 4:2:0 needs even sides, an odd last column/row is dropped
    height: int
    fps: Fraction
    duration_ms: int
    frame_count: int

    @property
    def fps_float(self) -> float:
        return float(self.fps)


def probe_video(path: str | os.PathLike) -> SourceVideo:
    """Frame size, rate and duration of a video's first video stream."""
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise RenderError("The file has no video track.")
            stream = container.streams.video[0]
            fps = Fraction(stream.average_rate or stream.guessed_rate or 25)
            if stream.duration is not None and stream.time_base is not None:
                duration_ms = round(float(stream.duration * stream.time_base) * 1000)
            else:
                duration_ms = round((container.duration or 0) / 1000)
            width = stream.codec_context.width // 2 * 2
            height = stream.codec_context.height // 2 * 2
    except av.FFmpegError as error:
        raise RenderError(f"The video could not be read ({error.strerror}).") from error
    frame_count = max(1, round(duration_ms * float(fps) / 1000))
    return SourceVideo(width, height, fps, duration_ms, frame_count)


def _decode_clip(path: str | os.PathLike) -> np.ndarray:
    try:
        samples = audio.decode_audio(path)
    except av.FFmpegError as error:
        raise RenderError(f"The audio could not be read ({error.strerror}).") from error
    if samples.shape[1] == 0:
        raise RenderError("The audio file holds no sound.")
    return samples


@dataclass
class _SourceFrame:
    frame: av.VideoFrame
    t_ms: int  # source time, for the face track


def _source_frames(path: str | os.PathLike, *, loop_until_ms: int | None) -> Iterator[_SourceFrame]:
    """Decoded frames with their source times; with `loop_until_ms`, start again at the end
    of the video until that much output time has been produced."""
    produced_ms = 0.0
    while True:
        first_pts_ms: float | None = None
        last_ms = 0.0
        with av.open(os.fspath(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                t_ms = (frame.time or 0.0) * 1000
                first_pts_ms = t_ms if first_pts_ms is None else first_pts_ms
                last_ms = t_ms - first_pts_ms
                yield _SourceFrame(frame, round(last_ms))
        if loop_until_ms is None or first_pts_ms is None:
            return
        produced_ms += last_ms + 1000 / float(stream.average_rate or 25)
        if produced_ms >= loop_until_ms:
            return


def _largest_face(tracks: Sequence[FaceTrack], t_ms: int) -> Box | None:
    boxes = [box for track in tracks if (box := track.box_at(t_ms)) is not None]
    return max(boxes, key=lambda b: (b[2] - b[0]) * (b[3] - b[1]), default=None)


# --- the render loop ---------------------------------------------------------------------------


def _render(
    output: SourceVideo,
    frames: Iterator[_SourceFrame],
    face_box_at: Callable[[int], Box | None],
    speech: audio.SpeechFeatures,
    soundtrack: np.ndarray,
    out_path: str | os.PathLike,
    watermark_out_path: str | os.PathLike | None,
    locate_mouth: MouthLocator | None,
    *,
    frame_limit: int | None,
) -> RenderResult:
    """Write every frame `frames` gives, or at most `frame_limit`, with the soundtrack."""
    locate = locate_mouth or _dlib_mouth_points
    animator = MouthAnimator(locate)
    targets = [_Output(out_path, output)]
    if watermark_out_path is not None:
        targets.append(_Output(watermark_out_path, output, watermark=True))
    written = 0
    try:
        for number, source_frame in enumerate(frames):
            if frame_limit is not None and number >= frame_limit:
                break
            openness = float(speech.openness[min(number, speech.openness.size - 1)])
            spread = float(speech.spread[min(number, speech.spread.size - 1)])
            box = face_box_at(source_frame.t_ms) if openness >= MIN_VISIBLE_OPENNESS else None
            image = None
            # The first untouched frame after a spoken run is a keyframe: predicted from the
            # warped frames, x264 would otherwise leave a faint ghost of the open mouth.
            keyframe = box is None and animator.geometry is not None
            if box is not None:
                image = source_frame.frame.to_ndarray(format="rgb24")
                animator.animate(image, box, openness, spread)
            else:
                animator.forget()
            for target in targets:
                target.write_video(source_frame.frame, image, number, keyframe=keyframe)
                target.write_audio_until(soundtrack, (number + 1) / output.fps_float)
            written = number + 1
        for target in targets:
            target.write_audio_until(soundtrack, math.inf)
    finally:
        for target in targets:
            target.close()
    if written == 0:
        raise RenderError("The video has no frames.")
    duration_ms = round(written * 1000 / output.fps_float)
    return RenderResult(duration_ms=duration_ms, width=output.width, height=output.height)


class _Output:
    """One MP4 being written: H.264 video, AAC stereo audio, moov atom first (faststart)."""

    def __init__(self, path: str | os.PathLike, video: SourceVideo, *, watermark: bool = False):
        self.container = av.open(os.fspath(path), "w", options={"movflags": "faststart"})
        self.video = self.container.add_stream("libx264", rate=video.fps)
        self.video.width, self.video.height = video.width, video.height
        self.video.pix_fmt = "yuv420p"
        self.video.options = dict(X264_OPTIONS)
        self.video.codec_context.thread_count = 0  # as many as x264 wants
        self.audio = self.container.add_stream("aac", rate=audio.SAMPLE_RATE)
        self.audio.layout = "stereo"
        self.time_base = Fraction(1, 1) / video.fps
        self.size = (video.width, video.height)
        self.overlay = _Watermark(video.width, video.height) if watermark else None
        self.audio_written = 0

    def write_video(
        self, frame: av.VideoFrame, image: np.ndarray | None, number: int, *, keyframe: bool
    ) -> None:
        if self.overlay is not None:
            image = self.overlay.apply(frame.to_ndarray(format="rgb24") if image is None else image)
        if image is not None:
            out = av.VideoFrame.from_ndarray(_even(image, self.size), format="rgb24")
        else:
            out = frame
        if (out.width, out.height) != self.size:
            out = out.reformat(width=self.size[0], height=self.size[1])
        out.pts, out.time_base = number, self.time_base
        # Otherwise x264 chooses: a decoded frame's own type must not force keyframes.
        out.pict_type = (
            av.video.frame.PictureType.I if keyframe else av.video.frame.PictureType.NONE
        )
        self.container.mux(self.video.encode(out))

    def write_audio_until(self, soundtrack: np.ndarray, until_s: float) -> None:
        """Encode the soundtrack up to `until_s`, keeping audio and video interleaved."""
        end = soundtrack.shape[1]
        if math.isfinite(until_s):
            end = min(end, round(until_s * audio.SAMPLE_RATE))
        if end <= self.audio_written:
            return
        chunk = np.ascontiguousarray(soundtrack[:, self.audio_written : end], dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
        frame.sample_rate = audio.SAMPLE_RATE
        frame.pts, frame.time_base = self.audio_written, Fraction(1, audio.SAMPLE_RATE)
        self.container.mux(self.audio.encode(frame))
        self.audio_written = end

    def close(self) -> None:
        try:
            self.container.mux(self.video.encode(None))
            self.container.mux(self.audio.encode(None))
        finally:
            self.container.close()


def _even(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return image[: size[1], : size[0]]


def _dlib_mouth_points(frame_rgb: np.ndarray, box: Box) -> np.ndarray:
    # Imported on first use: dlib loads its landmark model then, not when this module loads.
    from projects.engines.local.dlibmodels import mouth_points

    return mouth_points(frame_rgb, box)


# --- the mouth ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MouthGeometry:
    """Where the lips meet, in frame pixels, and the mouth's own axes."""

    centre: np.ndarray  # (x, y) midway between the inner lips
    across: np.ndarray  # unit vector from the left to the right corner
    width: float  # corner to corner

    @property
    def down(self) -> np.ndarray:
        return np.array([-self.across[1], self.across[0]])

    @classmethod
    def from_points(cls, points: np.ndarray) -> MouthGeometry:
        """From dlib's 20 mouth landmarks (48-67): corners 48/54, inner lip centres 62/66."""
        left, right = points[0], points[6]
        span = right - left
        width = float(np.hypot(*span))
        centre = (points[14] + points[18]) / 2
        return cls(centre=centre, across=span / max(width, 1e-6), width=width)

    @classmethod
    def from_box(cls, box: Box) -> MouthGeometry:
        """A fallback from the face box alone, in dlib's usual proportions for a frontal face."""
        left, top, right, bottom = box
        width, height = right - left, bottom - top
        centre = np.array([left + 0.5 * width, top + 0.80 * height])
        return cls(centre=centre, across=np.array([1.0, 0.0]), width=0.40 * width)

    def blended(self, newer: MouthGeometry, weight: float) -> MouthGeometry:
        across = (1 - weight) * self.across + weight * newer.across
        return MouthGeometry(
            centre=(1 - weight) * self.centre + weight * newer.centre,
            across=across / max(float(np.hypot(*across)), 1e-6),
            width=(1 - weight) * self.width + weight * newer.width,
        )


class MouthAnimator:
    """Opens one face's mouth frame after frame, smoothing the landmarks between frames."""

    def __init__(self, locate_mouth: MouthLocator) -> None:
        self.locate_mouth = locate_mouth
        self.geometry: MouthGeometry | None = None

    def forget(self) -> None:
        """The face stopped speaking or left: the next frame starts from fresh landmarks."""
        self.geometry = None

    def animate(self, image: np.ndarray, box: Box, openness: float, spread: float) -> None:
        """Open the mouth in `image` (RGB, modified in place) by `openness` (0-1)."""
        found = self._locate(image, box)
        if self.geometry is None:
            self.geometry = found
        else:
            self.geometry = self.geometry.blended(found, GEOMETRY_SMOOTHING)
        warp_mouth(image, self.geometry, openness, spread)

    def _locate(self, image: np.ndarray, box: Box) -> MouthGeometry:
        try:
            points = np.asarray(self.locate_mouth(image, box), dtype=np.float64)
        except (RuntimeError, ValueError):
            return MouthGeometry.from_box(box)
        geometry = MouthGeometry.from_points(points)
        # Landmarks on a blurred or turned face can collapse; the box is then the better guess.
        face_width = box[2] - box[0]
        if not 0.15 * face_width <= geometry.width <= 0.8 * face_width:
            return MouthGeometry.from_box(box)
        return geometry


@dataclass(frozen=True)
class _Region:
    """The frame rectangle a mouth warp may touch, and its pixels in mouth coordinates."""

    top: int
    left: int
    bottom: int
    right: int
    u: np.ndarray  # across the mouth, px from the centre, positive to the right corner
    v: np.ndarray  # down from the line where the lips meet, px


def warp_mouth(image: np.ndarray, mouth: MouthGeometry, openness: float, spread: float) -> None:
    """Drop the lower lip and jaw by `openness`, shape the lips by `spread`, darken the gap.

    The warp is an inverse map (each output pixel reads the source at a displaced point). The
    vertical displacement is the jaw drop times a lip profile that is 1 at the mouth's centre
    and 0 at its corners near the lips, turning into a broad jaw profile lower down, so the
    chin moves as one piece. Just under the lip line it ramps up linearly over the opened gap,
    which keeps the map one-to-one (no folds) and makes the gap a stretch of the lip line,
    which the inner-mouth mask then covers. Below the chin it fades out, so the field is zero
    at the region's edges and no seam can show.
    """
    width = mouth.width
    drop = openness * MAX_DROP_PER_WIDTH * width * (1 - 0.2 * spread)
    stretch = 1 + MAX_SPREAD * spread * openness
    chin = 0.9 * width
    fade = 0.7 * width + drop
    region = _mouth_region(
        image.shape, mouth, above=0.4 * width, below=chin + fade, side=1.5 * width
    )
    if region is None:
        return
    u, v = region.u, region.v
    half = 0.5 * width * stretch
    lip_profile = np.sqrt(np.clip(1 - (u / half) ** 2, 0, 1))
    jaw_profile = np.exp(-0.5 * (u / (0.5 * width)) ** 2)
    towards_jaw = np.clip(v / chin, 0, 1)
    profile = (1 - towards_jaw) * lip_profile + towards_jaw * jaw_profile
    gap = drop * lip_profile
    ramp = np.clip(v / (gap + 1.0), 0, 1)
    below_chin = np.clip(1 - (v - chin) / fade, 0, 1)
    down_shift = drop * profile * ramp * below_chin
    # Squares written as products: numpy's float32 power with an exponent of 4 is very slow.
    lip_height = ((v - gap / 2) / (0.35 * width)) ** 2
    lip_span = (u / (0.8 * width)) ** 2
    lips = np.exp(-lip_height - lip_span * lip_span)
    across_shift = (stretch - 1) * u * lips
    darkness = _inner_mouth_alpha(v, gap, drop)
    # Only pixels that move or darken by a visible amount are resampled: about half the region.
    moving = (down_shift > 0.05) | (np.abs(across_shift) > 0.05) | (darkness > 0.004)
    index = np.flatnonzero(moving)
    if index.size == 0:
        return
    patch = image[region.top : region.bottom, region.left : region.right]
    # Channel planes (3, pixels): numpy's loops then run along the long axis, not over 3 values.
    planes = patch.transpose(2, 0, 1).reshape(patch.shape[2], -1).astype(np.float32)
    warped = _sample(
        planes,
        patch.shape[1],
        region,
        mouth,
        (u - across_shift).ravel()[index],
        (v - down_shift).ravel()[index],
    )
    alpha = darkness.ravel()[index]
    # A little of the skin's own light stays, so the inner mouth is lit like the face.
    shade = 0.25 * warped + 0.75 * INNER_MOUTH_RGB[:, None]
    warped += (shade - warped) * alpha
    planes[:, index] = warped
    patch[...] = (
        np.clip(planes + 0.5, 0, 255)
        .astype(np.uint8)
        .reshape(patch.shape[2], *patch.shape[:2])
        .transpose(1, 2, 0)
    )


def _mouth_region(
    shape: tuple[int, ...], mouth: MouthGeometry, *, above: float, below: float, side: float
) -> _Region | None:
    """The axis-aligned frame rectangle around the mouth's (possibly tilted) work area."""
    corners = [
        mouth.centre + a * mouth.across + d * mouth.down
        for a in (-side, side)
        for d in (-above, below)
    ]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    height, width = shape[:2]
    left, right = max(0, math.floor(min(xs))), min(width, math.ceil(max(xs)) + 1)
    top, bottom = max(0, math.floor(min(ys))), min(height, math.ceil(max(ys)) + 1)
    if right - left < 4 or bottom - top < 4:
        return None
    gy, gx = np.mgrid[top:bottom, left:right].astype(np.float32)
    dx, dy = gx - np.float32(mouth.centre[0]), gy - np.float32(mouth.centre[1])
    across, down = mouth.across.astype(np.float32), mouth.down.astype(np.float32)
    u = dx * across[0] + dy * across[1]
    v = dx * down[0] + dy * down[1]
    return _Region(top, left, bottom, right, u, v)


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
    x = np.float32(mouth.centre[0] - region.left) + u * across[0] + v * down[0]
    y = np.float32(mouth.centre[1] - region.top) + u * across[1] + v * down[1]
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


def _inner_mouth_alpha(v: np.ndarray, gap: np.ndarray, drop: float) -> np.ndarray:
    """How much inner mouth covers each pixel: the opened gap, feathered on every side."""
    feather = max(1.0, 0.3 * drop)
    inside = np.clip(np.minimum(v, gap - v) / feather, 0, 1)
    return _smoothstep(inside) * INNER_MOUTH_OPACITY


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


# --- the preview watermark ---------------------------------------------------------------------


class _Watermark:
    """A large semi-transparent "PREVIEW" across the middle of the frame."""

    TEXT = "PREVIEW"
    OPACITY = 0.45

    def __init__(self, width: int, height: int) -> None:
        font = ImageFont.load_default(size=max(12, height // 7))
        left, top, right, bottom = font.getbbox(self.TEXT, stroke_width=2)
        text_w, text_h = right - left + 4, bottom - top + 4
        mark = Image.new("LA", (text_w, text_h), (0, 0))
        ImageDraw.Draw(mark).text(
            (2 - left, 2 - top),
            self.TEXT,
            font=font,
            fill=(255, 255),
            stroke_width=2,
            stroke_fill=(40, 255),
        )
        pixels = np.asarray(mark, dtype=np.float32)
        self.colour = pixels[..., :1]
        self.alpha = pixels[..., 1:] / 255 * self.OPACITY
        self.left = max(0, (width - text_w) // 2)
        self.top = max(0, (height - text_h) // 2)
        self.alpha = self.alpha[: height - self.top, : width - self.left]
        self.colour = self.colour[: height - self.top, : width - self.left]

    def apply(self, image: np.ndarray) -> np.ndarray:
        marked = image.copy()
        h, w = self.alpha.shape[:2]
        area = marked[self.top : self.top + h, self.left : self.left + w].astype(np.float32)
        area = area * (1 - self.alpha) + self.colour * self.alpha
        marked[self.top : self.top + h, self.left : self.left + w] = area.astype(np.uint8)
        return marked
