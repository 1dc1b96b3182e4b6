"""Rendering for the local engine: a preview-quality lip-sync, written as H.264 + AAC MP4.

The video is decoded once and re-encoded; only the frames in which the chosen face speaks are
touched, and in them only the lips and jaw (mouth.py): the jaw drops as loud as the speech is,
the lips take the shape of the sound spoken (sounds.py), and the opening shows a mouth's
inside. The face is followed with its track's boxes and dlib's landmarks on every animated
frame. Other frames go to the encoder as decoded, which is what keeps the render faster than
real time.
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

from projects.engines.local import audio, sounds
from projects.engines.local.mouth import MouthAnimator, motion_for

Box = tuple[int, int, int, int]  # left, top, right, bottom in source pixels
# Finds a face's 68 landmarks (dlib's layout), (68, 2) frame pixels, given its box.
LandmarkLocator = Callable[[np.ndarray, Box], np.ndarray]

X264_OPTIONS = {"preset": "veryfast", "crf": "18"}
# Openness below this is drawn as a closed mouth: the frame goes to the encoder untouched.
MIN_VISIBLE_OPENNESS = 0.02


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
    locate_landmarks: LandmarkLocator | None = None,
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
            sounds.speech_features(speech, source.fps_float, source.frame_count + 2),
            source.fps_float,
            start_ms=sound_insert_ms,
            end_ms=sound_insert_ms + sound_end_ms - sound_start_ms,
        ),
        soundtrack,
        out_path,
        watermark_out_path,
        locate_landmarks,
        frame_limit=None,
    )


def render_basic(
    video_path: str | os.PathLike,
    audio_path: str | os.PathLike,
    tracks: Sequence[FaceTrack],
    out_path: str | os.PathLike,
    watermark_out_path: str | os.PathLike | None = None,
    *,
    phonemes: Sequence[sounds.TimedPhoneme] | None = None,
    locate_landmarks: LandmarkLocator | None = None,
) -> RenderResult:
    """Lip-sync the whole video to `audio_path` (the contract's basic lip-sync).

    The output lasts as long as the audio: the video loops when the audio is longer and is cut
    when it is shorter. The audio replaces the video's own sound. At each moment the largest
    face on screen speaks. `phonemes`, when the speech was synthesised, say which sound is
    heard when (times from the audio's start); otherwise the sounds are told from the spectrum.
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
        sounds.speech_features(speech, source.fps_float, frame_count + 2, phonemes),
        speech,
        out_path,
        watermark_out_path,
        locate_landmarks,
        frame_limit=frame_count,
    )


def _within(
    speech: sounds.SpeechFeatures, fps: float, *, start_ms: int, end_ms: int
) -> sounds.SpeechFeatures:
    """The features with the mouth shut outside [start_ms, end_ms): the smoothing's release
    would otherwise let it close a few frames after the clip has ended."""
    times_ms = np.arange(speech.openness.size) * 1000 / fps
    return speech.silenced_outside((times_ms >= start_ms) & (times_ms < end_ms))


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
    speech: sounds.SpeechFeatures,
    soundtrack: np.ndarray,
    out_path: str | os.PathLike,
    watermark_out_path: str | os.PathLike | None,
    locate_landmarks: LandmarkLocator | None,
    *,
    frame_limit: int | None,
) -> RenderResult:
    """Write every frame `frames` gives, or at most `frame_limit`, with the soundtrack."""
    animator = MouthAnimator(locate_landmarks or _dlib_landmarks)
    targets = [_Output(out_path, output)]
    if watermark_out_path is not None:
        targets.append(_Output(watermark_out_path, output, watermark=True))
    written = 0
    try:
        for number, source_frame in enumerate(frames):
            if frame_limit is not None and number >= frame_limit:
                break
            at = min(number, speech.openness.size - 1)
            openness = float(speech.openness[at])
            motion = motion_for(openness, speech.classes[at])
            visible = openness >= MIN_VISIBLE_OPENNESS and not motion.still
            box = face_box_at(source_frame.t_ms) if visible else None
            image = None
            # The first untouched frame after a spoken run is a keyframe: predicted from the
            # warped frames, x264 would otherwise leave a faint ghost of the open mouth.
            keyframe = box is None and animator.geometry is not None
            if box is not None:
                image = source_frame.frame.to_ndarray(format="rgb24")
                animator.animate(image, box, motion)
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


def _dlib_landmarks(frame_rgb: np.ndarray, box: Box) -> np.ndarray:
    # Imported on first use: dlib loads its landmark model then, not when this module loads.
    from projects.engines.local.dlibmodels import landmark_array, landmarks

    return landmark_array(landmarks(frame_rgb, box))


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
