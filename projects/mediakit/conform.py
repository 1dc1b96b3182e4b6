"""'Fix it for me': copies that fit the engine's limits, with what was changed in plain words.

Run on a worker, never in a web request: a minute of 4K takes a while to re-encode. The source
is probed first (in the sandboxed probe), then read through the same restricted opener. The
result is written next to `dst` and renamed into place, so a failure never leaves half a file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import av.container
import av.filter
import numpy as np

from projects.engines.limits import ADVANCED_VIDEO, AUDIO
from projects.mediakit.errors import MediaError
from projects.mediakit.probe import MediaInfo, inspect_media, probe_media, quarter_turns
from projects.mediakit.safeopen import first_audio_stream, first_video_stream, open_input
from projects.mediakit.wording import clock, codec_label, container_label, frame_size, megabytes

DASH = "\N{EN DASH}"
AAC_FRAME_SAMPLES = 1024
# A gap in the source's sound shorter than this is timestamp rounding, not silence.
GAP_TOLERANCE_S = 0.01
AAC_RATES = (44_100, 48_000)
VIDEO_AUDIO_BITRATE = 128_000
MAX_AUDIO_BITRATE = 192_000
MIN_AUDIO_BITRATE = 32_000
# Container overhead and AAC's loose rate control: aim this far under the byte limit.
AUDIO_SIZE_MARGIN = 0.9
# FFmpeg's filters that turn a picture by quarter turns counter-clockwise, as its players do.
TURN_FILTERS = {
    1: [("transpose", "cclock")],
    2: [("hflip", ""), ("vflip", "")],
    3: [("transpose", "clock")],
}
# The upright copy replaces the source everything is made from: keep it close to the original.
UPRIGHT_CRF = 18
UPRIGHT_MAX_LONG_SIDE = 1920
UPRIGHT_CHANGE = (
    "Turned the picture upright: the camera stored it on its side (as phones do) and left "
    "turning it to the player. Faces are found in this upright copy."
)


@dataclass
class ConformReport:
    """What a conversion changed, one plain sentence each, and the result's own probe."""

    changes: list[str] = field(default_factory=list)
    output: MediaInfo | None = None


def conform_video(
    src: Path | str,
    dst: Path | str,
    *,
    trim_start_ms: int = 0,
    max_duration_ms: int = ADVANCED_VIDEO.max_duration_ms,
    min_side: int = ADVANCED_VIDEO.min_side_px,
    max_long_side: int = 1920,
    max_side: int = ADVANCED_VIDEO.max_side_px,
    crf: int = 23,
    preset: str = "veryfast",
) -> ConformReport:
    """Write an H.264 (yuv420p, even sides) + AAC MP4 with faststart that fits the limits.

    Trims to `max_duration_ms` from `trim_start_ms`, scales down so the long side is at most
    `max_long_side` (1080p) or up so the short side is at least `min_side`.
    """
    src, dst = Path(src), Path(dst)
    info = probe_media(src, expect="video")
    if info.kind != "video" or not info.width or not info.height:
        raise MediaError("This file has no pictures, so it cannot be made into a video.")
    start_ms, end_ms = _trim_window(info, trim_start_ms, max_duration_ms)
    width, height = target_frame_size(*shown_size(info), min_side, max_long_side, max_side)
    report = ConformReport(changes=_video_changes(info, start_ms, end_ms, width, height))
    turns = quarter_turns(info.rotation)
    with written_atomically(dst) as part:
        _transcode_video(src, part, info, start_ms, end_ms, (width, height), crf, preset, turns)
    report.output = inspect_media(dst)
    return report


def turn_upright(src: Path | str, dst: Path | str, info: MediaInfo) -> ConformReport:
    """Write `src` (probed as `info`) with its picture turned as the file asks a player to.

    Everything we make from a video decodes its pixels as stored; a phone's sideways pixels
    would give sideways thumbnails and faces the search cannot find. The copy keeps the size
    (sides swapped; larger than 1080p is brought down to it, as the engine needs anyway, which
    also bounds the time a long 4K file takes), frame rate, whole length and sound, and asks
    no player to turn it.
    """
    turns = quarter_turns(info.rotation)
    if info.kind != "video" or not info.width or not info.height or not turns:
        raise ValueError("turn_upright takes a video that asks to be turned")
    shown = shown_size(info)
    # Only ever brought down: the copy is the source, not a fix for the engine's minimum.
    size = target_frame_size(*shown, 2, UPRIGHT_MAX_LONG_SIDE, UPRIGHT_MAX_LONG_SIDE)
    changes = [UPRIGHT_CHANGE]
    if size != shown:
        changes.append(f"Downscaled from {frame_size(*shown)} to {frame_size(*size)}")
    try:
        with written_atomically(Path(dst)) as part:
            _transcode_video(Path(src), part, info, 0, None, size, UPRIGHT_CRF, "veryfast", turns)
        output = inspect_media(Path(dst))
    except (av.error.FFmpegError, OSError) as error:
        Path(dst).unlink(missing_ok=True)
        raise MediaError(
            "We could not turn this video upright: it may be damaged part-way through. "
            "Export it again and retry."
        ) from error
    return ConformReport(changes=changes, output=output)


def shown_size(info: MediaInfo) -> tuple[int, int]:
    """The picture's width and height as players show it: a quarter turn swaps the sides."""
    width, height = info.width or 0, info.height or 0
    return (height, width) if quarter_turns(info.rotation) % 2 else (width, height)


def conform_audio(
    src: Path | str,
    dst: Path | str,
    *,
    trim_start_ms: int = 0,
    max_duration_ms: int = AUDIO.max_duration_ms,
    max_bytes: int = AUDIO.max_bytes,
) -> ConformReport:
    """Write the sound of `src` as AAC in an .m4a, trimmed, at a bitrate that fits `max_bytes`."""
    src, dst = Path(src), Path(dst)
    info = probe_media(src, expect="audio")
    if not info.has_audio:
        raise MediaError("This file has no sound in it. Please choose a file with speech.")
    start_ms, end_ms = _trim_window(info, trim_start_ms, max_duration_ms)
    bitrate = audio_bitrate_for(end_ms - start_ms, max_bytes)
    for attempt_bitrate in (bitrate, int(bitrate * 0.75)):
        with written_atomically(dst) as part:
            _transcode_audio(src, part, start_ms, end_ms, attempt_bitrate)
        if dst.stat().st_size <= max_bytes:
            break
    else:
        dst.unlink(missing_ok=True)
        raise MediaError(
            f"We could not fit this sound into {megabytes(max_bytes)}. "
            "Please choose a shorter part of it."
        )
    report = ConformReport(changes=_audio_changes(info, start_ms, end_ms, attempt_bitrate))
    report.output = inspect_media(dst)
    report.changes.append(
        f"The file went from {megabytes(info.size_bytes)} to {megabytes(report.output.size_bytes)}"
    )
    return report


def target_frame_size(
    width: int, height: int, min_side: int, max_long_side: int, max_side: int
) -> tuple[int, int]:
    """Even width and height within the side limits, keeping the shape; MediaError if none."""
    short, long = min(width, height), max(width, height)
    if long > max_long_side:
        scale = max_long_side / long
        new_w, new_h = _even_down(width * scale), _even_down(height * scale)
    elif short < min_side:
        scale = min_side / short
        new_w, new_h = _even_up(width * scale), _even_up(height * scale)
    else:
        new_w, new_h = _even_down(width), _even_down(height)
    if min(new_w, new_h) < min_side or max(new_w, new_h) > max_side:
        raise MediaError(
            f"A {frame_size(width, height)} video cannot be resized to fit "
            f"{min_side}{DASH}{max_side} pixels on each side: its shape is too narrow. "
            "Please crop it to a wider frame and try again."
        )
    return new_w, new_h


def audio_bitrate_for(duration_ms: int, max_bytes: int) -> int:
    """The highest AAC bitrate (≤ 192 kbit/s, in whole kbit/s) whose file fits `max_bytes`."""
    fitting = max_bytes * 8 * AUDIO_SIZE_MARGIN / max(duration_ms / 1000, 0.001)
    bitrate = min(MAX_AUDIO_BITRATE, int(fitting) // 1000 * 1000)
    if bitrate < MIN_AUDIO_BITRATE:
        raise MediaError(
            f"This sound is too long to fit into {megabytes(max_bytes)} at a quality fit for "
            "speech. Please choose a shorter part of it."
        )
    return bitrate


def _trim_window(info: MediaInfo, trim_start_ms: int, max_duration_ms: int) -> tuple[int, int]:
    start_ms = max(0, trim_start_ms)
    if start_ms >= info.duration_ms:
        raise MediaError(
            f"The chosen start {clock(start_ms)} is past the end of the file "
            f"({clock(info.duration_ms)}). Please choose an earlier start."
        )
    return start_ms, min(info.duration_ms, start_ms + max_duration_ms)


def _video_changes(
    info: MediaInfo, start_ms: int, end_ms: int, width: int, height: int
) -> list[str]:
    changes = []
    source_format = f"{codec_label(info.video_codec)}/{container_label(info.container)}"
    if (
        info.container != "mp4"
        or info.video_codec != "h264"
        or info.audio_codec
        not in (
            "aac",
            None,
        )
    ):
        changes.append(f"Re-encoded from {source_format} to H.264/AAC MP4")
    if info.rotation:
        changes.append(UPRIGHT_CHANGE)
    if start_ms > 0 or end_ms < info.duration_ms:
        changes.append(f"Trimmed to {clock(start_ms)}{DASH}{clock(end_ms)}")
    shown_width, shown_height = shown_size(info)
    before, after = frame_size(shown_width, shown_height), frame_size(width, height)
    if max(width, height) < max(shown_width, shown_height):
        changes.append(f"Downscaled from {before} to {after}")
    elif min(width, height) > min(shown_width, shown_height):
        changes.append(f"Enlarged from {before} to {after}")
    return changes


def _audio_changes(info: MediaInfo, start_ms: int, end_ms: int, bitrate: int) -> list[str]:
    source = f"{container_label(info.container)} ({codec_label(info.audio_codec)})"
    changes = []
    if info.kind == "video":
        changes.append("Took the sound from the video")
    changes.append(f"Converted from {source} to AAC in an M4A file at {bitrate // 1000} kbit/s")
    if start_ms > 0 or end_ms < info.duration_ms:
        changes.append(f"Trimmed to {clock(start_ms)}{DASH}{clock(end_ms)}")
    return changes


@contextmanager
def written_atomically(dst: Path) -> Iterator[Path]:
    """Yield `dst`'s temporary sibling; rename it into place on success, delete it on error."""
    part = dst.with_name(f".{dst.name}.part")
    try:
        yield part
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    part.replace(dst)


def _transcode_video(
    src: Path,
    dst: Path,
    info: MediaInfo,
    start_ms: int,
    end_ms: int | None,
    size: tuple[int, int],
    crf: int,
    preset: str,
    turns: int = 0,
) -> None:
    """Decode `src` from `start_ms` to `end_ms` (None: to its end), turn, scale and encode."""
    with (
        open_input(src) as source,
        av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as output,
    ):
        video_in = first_video_stream(source)
        audio_in = first_audio_stream(source)
        assert video_in is not None  # the probe said it is a video
        turn = _Turner(video_in, turns) if turns else None
        rate = _output_frame_rate(video_in)
        video_out = add_h264_stream(output, rate, size, crf, preset)
        _keep_colour_description(video_in, video_out)
        sound = _AacWriter(
            output, audio_in, start_ms, end_ms, VIDEO_AUDIO_BITRATE, beside_pictures=True
        )
        sound_streams = [audio_in] if audio_in is not None else []
        _seek_before(source, video_in, start_ms)
        pictures = _PictureWriter(output, video_out, rate, start_ms, end_ms, size)
        for frame in _decoded_frames(source, [video_in, *sound_streams]):
            if isinstance(frame, av.VideoFrame):
                pictures.add(turn(frame) if turn else frame)
            else:
                sound.add(frame)
        pictures.finish()
        sound.finish()


def _transcode_audio(src: Path, dst: Path, start_ms: int, end_ms: int, bitrate: int) -> None:
    with (
        open_input(src) as source,
        av.open(str(dst), "w", format="ipod", options={"movflags": "+faststart"}) as output,
    ):
        audio_in = first_audio_stream(source)
        assert audio_in is not None  # the probe said it has sound
        sound = _AacWriter(output, audio_in, start_ms, end_ms, bitrate)
        _seek_before(source, audio_in, start_ms)
        for frame in _decoded_frames(source, [audio_in]):
            sound.add(frame)
        sound.finish()


def _decoded_frames(
    source: av.container.InputContainer, streams: list[av.stream.Stream]
) -> Iterator[av.VideoFrame | av.AudioFrame]:
    try:
        for packet in source.demux(streams):
            yield from packet.decode()
    except av.error.FFmpegError as error:
        raise MediaError(
            "This file is damaged part-way through, so we could not convert it. "
            "Export it again and retry."
        ) from error


def _seek_before(source: av.container.InputContainer, stream: av.stream.Stream, ms: int) -> None:
    """Jump to the keyframe before `ms`; frames before it are decoded and dropped."""
    if ms > 0 and stream.time_base:
        source.seek(int(ms / 1000 / stream.time_base), stream=stream, backward=True)


def _output_frame_rate(video: av.VideoStream) -> Fraction:
    rate = video.average_rate or video.guessed_rate or Fraction(25)
    return Fraction(rate).limit_denominator(1001)


def add_h264_stream(
    output: av.container.OutputContainer,
    rate: Fraction,
    size: tuple[int, int],
    crf: int,
    preset: str,
) -> av.VideoStream:
    stream = output.add_stream("libx264", rate=rate)
    stream.width, stream.height = size
    stream.pix_fmt = "yuv420p"
    stream.codec_context.options = {"crf": str(crf), "preset": preset}
    return stream


def _keep_colour_description(source: av.VideoStream, target: av.VideoStream) -> None:
    """Tag the copy with the source's colours (a phone's HDR BT.2020/HLG, say): the pixels
    keep their meaning through the bit-depth change, and untagged a player would take them
    for BT.709 and show them washed out."""
    for name in ("color_primaries", "color_trc", "colorspace"):
        setattr(target.codec_context, name, getattr(source.codec_context, name))


class _Turner:
    """Turns decoded pictures by quarter turns counter-clockwise, in FFmpeg's filters (C speed:
    under 1 ms for a 1080p frame, against 50 ms through numpy)."""

    def __init__(self, stream: av.VideoStream, turns: int) -> None:
        self.graph = av.filter.Graph()
        previous = self.graph.add_buffer(template=stream)
        for name, argument in TURN_FILTERS[turns]:
            step = self.graph.add(name, argument)
            previous.link_to(step)
            previous = step
        previous.link_to(self.graph.add("buffersink"))
        self.graph.configure()

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        self.graph.push(frame)
        return self.graph.pull()


class _PictureWriter:
    """Scales frames within the trim window onto a constant-rate grid and encodes them.

    Timestamps are snapped to the output frame grid; a variable-rate source's frames that land
    on an already-used slot are dropped rather than sent out of order.
    """

    def __init__(
        self, output, stream, rate: Fraction, start_ms: int, end_ms: int | None, size
    ) -> None:
        self.output, self.stream, self.rate = output, stream, rate
        self.start_s = start_ms / 1000
        self.end_s = math.inf if end_ms is None else end_ms / 1000
        self.width, self.height = size
        self.last_pts = -1

    def add(self, frame: av.VideoFrame) -> None:
        if frame.time is None or frame.time >= self.end_s:
            return
        pts = round((frame.time - self.start_s) * self.rate)
        if pts < 0 or pts <= self.last_pts:
            return
        scaled = frame.reformat(
            width=self.width, height=self.height, format="yuv420p", interpolation="BICUBIC"
        )
        scaled.pts, scaled.time_base = pts, 1 / self.rate
        self.last_pts = pts
        self.output.mux(self.stream.encode(scaled))

    def finish(self) -> None:
        if self.last_pts < 0:
            raise MediaError("We found no pictures in the chosen part of this video.")
        self.output.mux(self.stream.encode(None))


class _AacWriter:
    """Resamples, trims to the window sample-exactly, and encodes AAC in 1024-sample frames."""

    def __init__(
        self,
        output,
        source_stream,
        start_ms: int,
        end_ms: int | None,
        bitrate: int,
        *,
        beside_pictures: bool = False,
    ) -> None:
        self.output = output
        self.beside_pictures = beside_pictures
        self.stream = None
        if source_stream is None:
            return
        source = source_stream.codec_context
        self.rate = source.sample_rate if source.sample_rate in AAC_RATES else AAC_RATES[1]
        layout = "mono" if source.channels == 1 else "stereo"
        self.stream = output.add_stream("aac", rate=self.rate)
        self.stream.layout = layout
        self.stream.bit_rate = bitrate
        self.resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.rate)
        self.fifo = av.AudioFifo()
        self.layout = layout
        self.first_sample = round(start_ms / 1000 * self.rate)
        self.end_sample = None if end_ms is None else round(end_ms / 1000 * self.rate)
        self.next_sample = self.first_sample  # where the sound kept so far ends, in the source
        self.encoded = 0

    def add(self, frame: av.AudioFrame | None) -> None:
        if self.stream is None:
            return
        for resampled in self.resampler.resample(frame):
            self._keep_window(resampled)
        self._encode_full_frames()

    def finish(self) -> None:
        if self.stream is None:
            return
        self.add(None)
        if self.fifo.samples:
            self._encode(self.fifo.read())
        self.output.mux(self.stream.encode(None))

    def _keep_window(self, frame: av.AudioFrame) -> None:
        if frame.time is None:
            return
        # The resampler keeps the source's time base when the rate is unchanged: use seconds.
        begin = round(frame.time * self.rate)
        keep_from = max(self.first_sample - begin, 0)
        end = frame.samples if self.end_sample is None else self.end_sample - begin
        keep_to = min(end, frame.samples)
        if keep_to <= keep_from:
            return
        self._fill_gap_until(begin + keep_from)
        self._write(np.ascontiguousarray(frame.to_ndarray()[:, keep_from:keep_to]))
        self.next_sample = begin + keep_to

    def _fill_gap_until(self, sample: int) -> None:
        """Silence where a video's sound is missing (it starts after the pictures, or skips):
        numbered from the window's start, the sound would otherwise slide early and the lips
        we make would not meet it. A sound file alone keeps only what it holds."""
        gap = sample - self.next_sample
        if self.beside_pictures and gap > self.rate * GAP_TOLERANCE_S:
            channels = 1 if self.layout == "mono" else 2
            self._write(np.zeros((channels, gap), dtype=np.float32))

    def _write(self, samples: np.ndarray) -> None:
        kept = av.AudioFrame.from_ndarray(samples, format="fltp", layout=self.layout)
        kept.sample_rate = self.rate
        self.fifo.write(kept)

    def _encode_full_frames(self) -> None:
        while self.fifo.samples >= AAC_FRAME_SAMPLES:
            self._encode(self.fifo.read(AAC_FRAME_SAMPLES))

    def _encode(self, frame: av.AudioFrame) -> None:
        frame.pts, frame.time_base = self.encoded, Fraction(1, self.rate)
        self.encoded += frame.samples
        self.output.mux(self.stream.encode(frame))


def _even_down(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _even_up(value: float) -> int:
    return math.ceil(value / 2) * 2
