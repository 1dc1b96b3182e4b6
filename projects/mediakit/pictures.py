"""Still pictures: a video's poster, its thumbnail strip for the timeline, uploaded images.

Frames are scaled by FFmpeg (swscale) before they become Pillow images, so a picture is never
held at more than its small output size. Pillow's decompression-bomb warning is turned into an
error while we work, so an image that would expand to billions of pixels is refused from its
header, before any decoding.
"""

from __future__ import annotations

import io
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import av
import av.container
from PIL import Image, UnidentifiedImageError

from projects.mediakit.errors import MediaError
from projects.mediakit.safeopen import first_video_stream, open_input
from projects.mediakit.wording import frame_size

# 40 megapixels: more than any phone photo, far less than a bomb.
MAX_IMAGE_PIXELS = 40_000_000
IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")
POSTER_MAX_SIDE = 1280
JPEG_QUALITY = 82

# Pillow's limit is one global; the guard changes it for the duration of one check only.
_pillow_guard_lock = threading.Lock()


@dataclass(frozen=True)
class ThumbnailStrip:
    """One JPEG sprite: `count` tiles of `tile_width` x `tile_height`, left to right."""

    jpeg: bytes
    tile_width: int
    tile_height: int
    count: int
    times_ms: tuple[int, ...]  # where each tile was taken


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def make_poster(video_path: Path | str, *, at_ms: int | None = None) -> bytes:
    """A JPEG of the frame at `at_ms` (default: a tenth in, at most 1 s), long side ≤ 1280 px."""
    with _opened_video(video_path) as (container, stream):
        duration_ms = _duration_ms(container)
        target = at_ms if at_ms is not None else min(1000, duration_ms // 10)
        frame = _frame_at(container, stream, target)
        width, height = _fit_within(frame.width, frame.height, POSTER_MAX_SIDE)
        picture = frame.reformat(width=width, height=height, format="rgb24").to_image()
    return _jpeg(picture)


def make_thumbnail_strip(
    video_path: Path | str, *, count: int = 10, height: int = 72
) -> ThumbnailStrip:
    """`count` small frames evenly across the video (at the middle of each slice), in one JPEG.

    Each tile is the exact frame at its time: the decoder seeks to the keyframe before it and
    decodes forward, so the cost per tile is at most one keyframe interval; a tile in the same
    keyframe interval as the one before is decoded on from there, without seeking back.
    """
    if not 1 <= count <= 200 or not 16 <= height <= 360:
        raise ValueError("count must be 1-200 and height 16-360 px")
    with _opened_video(video_path) as (container, stream):
        duration_ms = _duration_ms(container)
        times = tuple(duration_ms * (2 * i + 1) // (2 * count) for i in range(count))
        source_w, source_h = stream.codec_context.width, stream.codec_context.height
        tile_w = max(2, round(source_w * height / source_h))
        sprite = Image.new("RGB", (tile_w * count, height))
        for index, frame in enumerate(_frames_at(container, stream, times)):
            tile = frame.reformat(width=tile_w, height=height, format="rgb24").to_image()
            sprite.paste(tile, (index * tile_w, 0))
    return ThumbnailStrip(_jpeg(sprite), tile_w, height, count, times)


def check_image(path: Path | str) -> ImageInfo:
    """Accept a PNG/JPEG/WebP of at most 40 megapixels, judged from its header, then verified."""
    with pillow_bomb_guard(), _image_errors():
        with Image.open(path) as image:
            info = ImageInfo(image.format or "", image.width, image.height)
            if info.format not in IMAGE_FORMATS:
                raise MediaError("Please upload the picture as PNG, JPEG or WebP.")
            _refuse_too_many_pixels(info.width, info.height)
            image.verify()  # checks the data's integrity without keeping a decoded copy
        with Image.open(path) as image:
            image.load()  # now known to be of sane size: decoding catches truncated data
    return info


@contextmanager
def pillow_bomb_guard(max_pixels: int = MAX_IMAGE_PIXELS) -> Iterator[None]:
    """Pillow refuses images above `max_pixels` (a warning made an error) inside the block."""
    with _pillow_guard_lock, warnings.catch_warnings():
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = previous


@contextmanager
def _image_errors() -> Iterator[None]:
    try:
        yield
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaError(
            "This picture is far too large to open safely. Please save it at a normal size "
            "(for example 1920 pixels wide) and try again."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise MediaError(
            "This file is not a picture we can read. Please save it as PNG or JPEG and try again."
        ) from error


def _refuse_too_many_pixels(width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise MediaError(
            f"This picture is {frame_size(width, height)} pixels, too large to open safely. "
            "Please save it at a normal size (for example 1920 pixels wide) and try again."
        )


@contextmanager
def _opened_video(
    video_path: Path | str,
) -> Iterator[tuple[av.container.InputContainer, av.VideoStream]]:
    try:
        with open_input(Path(video_path)) as container:
            stream = first_video_stream(container)
            if stream is None:
                raise MediaError("This file has no pictures to show.")
            stream.codec_context.thread_count = 1
            with pillow_bomb_guard(), _image_errors():
                yield container, stream
    except av.error.FFmpegError as error:
        raise MediaError(
            "We could not take a picture from this video; it may be damaged. "
            "Export it again and retry."
        ) from error


def _duration_ms(container: av.container.InputContainer) -> int:
    return max(0, (container.duration or 0) // 1000)


def _frame_at(
    container: av.container.InputContainer, stream: av.VideoStream, time_ms: int
) -> av.VideoFrame:
    """The first frame shown at or after `time_ms` (the last frame if that is past the end)."""
    container.seek(int(time_ms / 1000 / stream.time_base), stream=stream, backward=True)
    fallback = None
    for frame in container.decode(stream):
        if frame.time is None or frame.time * 1000 >= time_ms - 1:
            return frame
        fallback = frame
    if fallback is None:
        raise MediaError("We found no pictures in this video; it may be damaged.")
    return fallback  # the asked time is past the last frame: show the last one


def _frames_at(
    container: av.container.InputContainer, stream: av.VideoStream, times_ms: tuple[int, ...]
) -> Iterator[av.VideoFrame]:
    """For each of the rising `times_ms`, the frame `_frame_at` gives; a seek is made only
    when a keyframe lies between the last frame decoded and the next time (a long keyframe
    interval would otherwise be decoded again from its start for every tile in it)."""
    keyframes_ms = _keyframe_times_ms(container, stream)
    frames, last_ms = None, None
    for time_ms in times_ms:
        keyframe_ms = max((k for k in keyframes_ms if k <= time_ms), default=None)
        if frames is None or last_ms is None or keyframe_ms is None or keyframe_ms > last_ms:
            container.seek(int(time_ms / 1000 / stream.time_base), stream=stream, backward=True)
            frames = container.decode(stream)
        frame = _first_frame_from(frames, time_ms)
        last_ms = frame.time * 1000 if frame.time is not None else None
        if last_ms is not None and last_ms < time_ms - 1:
            frames = None  # past the last frame: the decoder is spent, seek for the next
        yield frame


def _keyframe_times_ms(container: av.container.InputContainer, stream: av.VideoStream) -> list:
    """Where the keyframes are, read from the packets without decoding any."""
    found = [
        float(packet.pts * packet.time_base * 1000)
        for packet in container.demux(stream)
        if packet.is_keyframe and packet.pts is not None
    ]
    return sorted(found)


def _first_frame_from(frames: Iterator[av.VideoFrame], time_ms: int) -> av.VideoFrame:
    fallback = None
    for frame in frames:
        if frame.time is None or frame.time * 1000 >= time_ms - 1:
            return frame
        fallback = frame
    if fallback is None:
        raise MediaError("We found no pictures in this video; it may be damaged.")
    return fallback  # the asked time is past the last frame: show the last one


def _fit_within(width: int, height: int, max_side: int) -> tuple[int, int]:
    scale = min(1.0, max_side / max(width, height))
    return max(2, round(width * scale)), max(2, round(height * scale))


def _jpeg(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue()
