"""What a file really is, found from its content, in a subprocess that can be killed.

Why a subprocess rather than a thread with a deadline: FFmpeg's `timeout` and interrupt callback
only cover network I/O, not a demuxer or decoder stuck on a crafted file, and a Python thread
cannot be stopped from outside, so a hung probe would keep its thread and memory for the life of
the web or worker process. A child process is killed at the deadline, and it runs under resource
limits of its own (address space, CPU seconds, no file writes). The price is ~0.1-0.2 s of
interpreter start-up per probe, small next to an upload.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import av.container

from projects.mediakit import formats
from projects.mediakit.errors import MediaError
from projects.mediakit.safeopen import (
    first_audio_stream,
    first_video_stream,
    open_input,
    read_head,
    sniff_demuxer,
)
from projects.mediakit.wording import frame_size, length

MediaKind = Literal["video", "audio"]
Expect = Literal["video", "audio"] | None

# Anything larger than this is no camera's output; decoding it would only cost memory.
MAX_DECODABLE_SIDE_PX = 8192
# Frames decoded per stream, so a file whose index is fine but whose data is garbage is caught.
FRAMES_TO_DECODE = 3
MAX_PACKETS_FOR_DECODE_CHECK = 60
# A header may overstate the content by this much before we call the file cut short.
TRUNCATION_TOLERANCE_MS = 500
TRUNCATION_TOLERANCE_RATIO = 0.05
# Containers with an index whose stated length can be compared with the packets really present.
INDEXED_DEMUXERS = ("mov", "matroska", "avi")


@dataclass(frozen=True)
class MediaInfo:
    """The facts about one media file that the checks, the UI and the conversions need."""

    container: str  # mp4, mov, m4a, 3gp, mp3, wav, aac, webm, matroska, avi, ogg, flac
    format_name: str  # FFmpeg's demuxer name as detected, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    kind: MediaKind
    duration_ms: int
    size_bytes: int
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    has_audio: bool = False
    sample_rate: int | None = None
    channels: int | None = None
    # How far a player turns the picture (degrees counter-clockwise: 0, 90, 180 or 270). A
    # phone held upright stores its picture on its side and says so in the file.
    rotation: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def file_extension(self) -> str:
        return formats.file_extension(self.container)

    @property
    def content_type(self) -> str:
        return formats.content_type(self.container, self.kind)


def probe_media(path: Path | str, *, timeout_s: float = 10, expect: Expect = None) -> MediaInfo:
    """Probe `path` in a resource-limited subprocess killed after `timeout_s` seconds.

    `expect` only tunes the wording of errors ("not a video we can read").
    Raises MediaError with a message for the person who gave us the file.
    """
    path = Path(path)
    _refuse_missing_or_empty(path)
    command = [sys.executable, "-m", "projects.mediakit.probe_worker", str(path.resolve())]
    command += ["--expect", expect or "any", "--cpu-seconds", str(int(timeout_s) + 1)]
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            command,
            capture_output=True,
            timeout=timeout_s,
            env=_worker_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MediaError(
            f"Reading this file took longer than {timeout_s:g} s, so we stopped. "
            + _export_advice(expect)
        ) from None
    return _parse_worker_answer(completed, expect)


def inspect_media(path: Path, expect: Expect = None) -> MediaInfo:
    """Probe `path` in this process (the worker's body; callers want `probe_media`)."""
    _refuse_missing_or_empty(path)
    head = read_head(path)
    try:
        with open_input(path) as container:
            return _inspect_container(container, path, head, expect)
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as error:
        # Starts like a media file but FFmpeg gave up: damaged rather than the wrong kind.
        looks_like_media = sniff_demuxer(head) is not None
        raise MediaError(_damaged() if looks_like_media else _not_readable(expect)) from error


def _inspect_container(
    container: av.container.InputContainer, path: Path, head: bytes, expect: Expect
) -> MediaInfo:
    video = first_video_stream(container)
    audio = first_audio_stream(container)
    if video is None and audio is None:
        raise MediaError(_not_readable(expect))
    if video is not None:
        _refuse_absurd_picture(video)
    measured_ms, rotation = _read_all_packets(container, video, audio)
    duration_ms = _trusted_duration_ms(container, path, measured_ms)
    kind: MediaKind = "video" if video is not None else "audio"
    audio_ctx = audio.codec_context if audio is not None else None
    return MediaInfo(
        container=_container_name(container.format.name, head, kind),
        format_name=container.format.name,
        kind=kind,
        duration_ms=duration_ms,
        size_bytes=path.stat().st_size,
        width=video.codec_context.width if video else None,
        height=video.codec_context.height if video else None,
        fps=_frame_rate(video) if video else None,
        video_codec=video.codec_context.codec.canonical_name if video else None,
        audio_codec=audio_ctx.codec.canonical_name if audio_ctx else None,
        has_audio=audio is not None,
        sample_rate=audio_ctx.sample_rate if audio_ctx else None,
        channels=audio_ctx.channels if audio_ctx else None,
        rotation=rotation,
    )


def _read_all_packets(
    container: av.container.InputContainer,
    video: av.VideoStream | None,
    audio: av.AudioStream | None,
) -> tuple[int, int]:
    """Demux every packet (cheap: no decoding) to measure the real length in ms; also the
    rotation the first picture asks for (0 for sound).

    The first few packets of each stream are decoded too, so undecodable data is caught.
    Headers can lie or describe data that was never uploaded; the packets cannot.
    """
    streams = [stream for stream in (video, audio) if stream is not None]
    video_index = video.index if video is not None else None
    for stream in streams:
        stream.codec_context.thread_count = 1
    ends: dict[int, float] = {}
    starts: dict[int, float] = {}
    decoded = {stream.index: 0 for stream in streams}
    fed = {stream.index: 0 for stream in streams}
    rotations: list[float] = []
    try:
        for packet in container.demux(streams):
            _note_packet_times(packet, starts, ends)
            index = packet.stream.index
            if decoded[index] < FRAMES_TO_DECODE and fed[index] < MAX_PACKETS_FOR_DECODE_CHECK:
                fed[index] += 1
                frames = packet.decode()
                decoded[index] += len(frames)
                rotations += [frame.rotation for frame in frames if index == video_index]
        for stream in streams:
            if decoded[stream.index] == 0:
                frames = stream.codec_context.decode(None)
                decoded[stream.index] += len(frames)
                rotations += [frame.rotation for frame in frames if stream.index == video_index]
    except av.error.FFmpegError as error:
        raise MediaError(_damaged()) from error
    if any(count == 0 for count in decoded.values()):
        raise MediaError(_damaged())
    lengths = [ends[i] - starts[i] for i in ends]
    rotation = quarter_turns(rotations[0]) * 90 if rotations else 0
    return round(max(lengths, default=0.0) * 1000), rotation


def quarter_turns(degrees: float) -> int:
    """A rotation in degrees counter-clockwise as whole quarter turns, 0 to 3."""
    return round(degrees / 90) % 4


def _note_packet_times(packet: av.Packet, starts: dict[int, float], ends: dict[int, float]) -> None:
    if packet.pts is None or packet.time_base is None:
        return
    index = packet.stream.index
    begin = float(packet.pts * packet.time_base)
    end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
    starts[index] = min(starts.get(index, begin), begin)
    ends[index] = max(ends.get(index, end), end)


def _trusted_duration_ms(
    container: av.container.InputContainer, path: Path, measured_ms: int
) -> int:
    """The header's length when the packets bear it out; a file promising more is refused.

    Within a small tolerance the shorter of the two is kept: the last packets overhang the
    real end by the codec's padding (AAC, MP3), which players and the engine ignore, so an
    exactly 60 s video must not measure 60.02 s. Beyond it, the packets are the truth for the
    limits, except that an indexed file (or a WAV) promising more than it holds was cut short
    or forged. MP3/ADTS have no index: their stated length is only an estimate.
    """
    demuxer = container.format.name.split(",")[0]
    header_ms = container.duration // 1000 if container.duration else None
    claimed_ms = _wav_claimed_ms(path) if demuxer == "wav" else header_ms
    if claimed_ms is None or header_ms is None:
        return measured_ms
    tolerance = max(TRUNCATION_TOLERANCE_MS, claimed_ms * TRUNCATION_TOLERANCE_RATIO)
    if abs(claimed_ms - measured_ms) <= tolerance:
        return min(header_ms, measured_ms)
    if claimed_ms > measured_ms and (demuxer in INDEXED_DEMUXERS or demuxer == "wav"):
        raise MediaError(
            f"This file looks damaged: it says it lasts {length(claimed_ms)} but holds only "
            f"{length(measured_ms)}. It may have been cut short while copying. "
            "Export or download it again and retry."
        )
    return measured_ms


def _wav_claimed_ms(path: Path) -> int | None:
    """The length a WAV's own header states (FFmpeg quietly clamps it to the file size)."""
    with path.open("rb") as handle:
        data = handle.read(4096)
    fmt_at = data.find(b"fmt ")
    data_at = data.find(b"data")
    if fmt_at < 0 or data_at < 0 or len(data) < fmt_at + 20 or len(data) < data_at + 8:
        return None
    byte_rate = int.from_bytes(data[fmt_at + 16 : fmt_at + 20], "little")
    data_size = int.from_bytes(data[data_at + 4 : data_at + 8], "little")
    if byte_rate == 0 or data_size in (0, 0xFFFFFFFF):
        return None  # "length unknown", as streaming recorders write it: not a lie
    return data_size * 1000 // byte_rate


def _refuse_absurd_picture(video: av.VideoStream) -> None:
    width, height = video.codec_context.width, video.codec_context.height
    if not width or not height:
        raise MediaError(_damaged())
    if max(width, height) > MAX_DECODABLE_SIDE_PX:
        raise MediaError(
            f"This video's picture is {frame_size(width, height)} pixels, larger than any we "
            f"can handle. Export it at 1080p ({frame_size(1920, 1080)}) and try again."
        )


def _frame_rate(video: av.VideoStream) -> float | None:
    rate: Fraction | None = video.average_rate or video.guessed_rate
    return round(float(rate), 3) if rate else None


def _container_name(format_name: str, head: bytes, kind: MediaKind) -> str:
    """A short, familiar name: the ISO family is told apart by its brand, WebM by its doctype."""
    demuxer = format_name.split(",")[0]
    if demuxer == "mov":
        brand = head[8:12]
        if brand == b"qt  ":
            return "mov"
        if brand.startswith((b"3gp", b"3g2")):
            return "3gp"
        return "m4a" if kind == "audio" else "mp4"
    if demuxer == "matroska":
        return "webm" if b"webm" in head else "matroska"
    return demuxer


def _refuse_missing_or_empty(path: Path) -> None:
    if not path.is_file():
        raise MediaError("We could not find the uploaded file. Please upload it again.")
    if path.stat().st_size == 0:
        raise MediaError("This file is empty (0 bytes). Please upload it again.")


def _worker_environment() -> dict[str, str]:
    """The worker imports this package, so it needs the project root on its path."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, existing) if p)}


def _parse_worker_answer(completed: subprocess.CompletedProcess, expect: Expect) -> MediaInfo:
    try:
        answer = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        # Killed by its resource limits, crashed inside FFmpeg, or printed nothing useful.
        raise MediaError(_damaged()) from None
    if "error" in answer:
        raise MediaError(answer["error"])
    return MediaInfo(**answer["info"])


def _export_advice(expect: Expect) -> str:
    if expect == "audio":
        return "Export it as MP3 or WAV and try again."
    if expect == "video":
        return "Export it as MP4 (H.264) and try again."
    return "Export videos as MP4 (H.264) and sound as MP3 or WAV, then try again."


def _not_readable(expect: Expect) -> str:
    what = {"video": "a video", "audio": "a sound file"}.get(expect or "", "a video or sound file")
    return f"This file is not {what} we can read. " + _export_advice(expect)


def _damaged() -> str:
    return (
        "This file looks damaged: we could not read its pictures or sound. "
        "It may have been cut short while copying. Export or download it again and retry."
    )
