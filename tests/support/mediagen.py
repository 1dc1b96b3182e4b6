"""Generators of real test media, made with PyAV and numpy, for any test that needs a file.

Everything here writes genuine, decodable files (colour bars or solid colour with an optional
tone, tone / noise / silence audio), plus the hostile inputs the media checks must refuse: a WAV
whose header lies about its length, a PNG that would expand to billions of pixels, a playlist
and an ffconcat list that point at another file, and truncated copies.
"""

from __future__ import annotations

import struct
import zlib
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

Pattern = Literal["bars", "solid"]
AudioKind = Literal["tone", "noise", "silence"]

# Container (by file suffix) -> (muxer, video codec, audio codec).
VIDEO_CONTAINERS: dict[str, tuple[str, str, str]] = {
    ".mp4": ("mp4", "libx264", "aac"),
    ".mov": ("mov", "libx264", "aac"),
    ".webm": ("webm", "libvpx-vp9", "libopus"),
    ".mkv": ("matroska", "libx264", "aac"),
    ".avi": ("avi", "mpeg4", "libmp3lame"),
}
# Audio file (by suffix) -> (muxer, codec).
AUDIO_CONTAINERS: dict[str, tuple[str, str]] = {
    ".wav": ("wav", "pcm_s16le"),
    ".mp3": ("mp3", "libmp3lame"),
    ".m4a": ("ipod", "aac"),
    ".aac": ("adts", "aac"),
    ".flac": ("flac", "flac"),
}
BAR_COLOURS = np.array(
    [
        (235, 235, 235),
        (235, 235, 16),
        (16, 235, 235),
        (16, 235, 16),
        (235, 16, 235),
        (235, 16, 16),
        (16, 16, 235),
    ],
    dtype=np.uint8,
)


def make_video(
    path: Path,
    *,
    width: int = 320,
    height: int = 240,
    fps: int = 25,
    duration_s: float = 2.0,
    pattern: Pattern = "bars",
    tone_hz: float | None = 440.0,
    video_codec: str | None = None,
    audio_codec: str | None = None,
    faststart: bool = False,
    preset: str = "ultrafast",
    rotation: int = 0,
) -> Path:
    """Write a video of colour bars (or a solid colour) with an optional sine tone.

    The container follows the suffix of `path` (.mp4 .mov .webm .mkv .avi); codecs default to
    the usual pair for that container. A small square moves across the picture so consecutive
    frames differ, as in real footage. With `rotation` the pictures are stored on their side
    and the file asks players to turn them (see `stored_on_its_side`).
    """
    muxer, default_vcodec, default_acodec = VIDEO_CONTAINERS[path.suffix.lower()]
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=muxer, options=options) as container:
        video = container.add_stream(video_codec or default_vcodec, rate=fps)
        video.width, video.height = stored_size((width, height), rotation)
        video.pix_fmt = "yuv420p"
        if rotation:
            video.set_display_rotation(rotation)
        if video.codec_context.name == "libx264":
            video.codec_context.options = {"preset": preset, "crf": "28"}
        audio = None
        if tone_hz is not None:
            audio = container.add_stream(audio_codec or default_acodec, rate=48_000)
            audio.layout = "stereo" if audio.codec_context.name == "libopus" else "mono"
        frame_count = round(duration_s * fps)
        base = _picture(width, height, pattern)
        for index in range(frame_count):
            picture = stored_on_its_side(_with_marker(base, index, frame_count), rotation)
            frame = av.VideoFrame.from_ndarray(picture, "rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            _encode_audio(container, audio, _tone(duration_s, 48_000, tone_hz, 0.3))
    return path


def make_audio(
    path: Path,
    *,
    kind: AudioKind = "tone",
    duration_s: float = 2.0,
    sample_rate: int = 44_100,
    channels: int = 1,
    tone_hz: float = 440.0,
    codec: str | None = None,
    bitrate: int | None = None,
) -> Path:
    """Write tone, white noise or silence as .wav .mp3 .m4a .aac (ADTS) or .flac by suffix."""
    muxer, default_codec = AUDIO_CONTAINERS[path.suffix.lower()]
    if kind == "tone":
        samples = _tone(duration_s, sample_rate, tone_hz, 0.5)
    elif kind == "noise":
        rng = np.random.default_rng(7)
        count = round(duration_s * sample_rate)
        samples = rng.uniform(-0.5, 0.5, count).astype(np.float32)
    else:
        samples = np.zeros(round(duration_s * sample_rate), dtype=np.float32)
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec or default_codec, rate=sample_rate)
        stream.layout = "stereo" if channels == 2 else "mono"
        if bitrate:
            stream.bit_rate = bitrate
        _encode_audio(container, stream, np.tile(samples, (channels, 1)))
    return path


def write_lying_wav(path: Path, *, real_seconds: float, claimed_seconds: float) -> Path:
    """A 8 kHz mono 16-bit WAV holding `real_seconds` of tone whose header claims much more."""
    rate = 8_000
    pcm = (_tone(real_seconds, rate, 440.0, 0.5)[0] * 32767).astype("<i2").tobytes()
    claimed_bytes = int(claimed_seconds * rate * 2)
    header = b"RIFF" + struct.pack("<I", 36 + claimed_bytes) + b"WAVE"
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    header += b"fmt " + struct.pack("<I", len(fmt)) + fmt
    header += b"data" + struct.pack("<I", claimed_bytes)
    path.write_bytes(header + pcm)
    return path


def write_png_bomb(path: Path, *, side: int = 60_000) -> Path:
    """A genuine, complete 1-bit PNG of `side` x `side` black pixels that compresses to ~1 MB.

    Decoding it would need gigabytes; a safe reader must refuse it from the header alone.
    """
    row = b"\x00" * (1 + (side + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    rows_per_chunk = 1000
    chunk = row * rows_per_chunk
    body = bytearray()
    for start in range(0, side, rows_per_chunk):
        body += compressor.compress(
            chunk if side - start >= rows_per_chunk else row * (side - start)
        )
    body += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
    png += _png_chunk(b"IDAT", bytes(body)) + _png_chunk(b"IEND", b"")
    path.write_bytes(png)
    return path


def write_hls_playlist(path: Path, segment: Path) -> Path:
    """An HLS playlist (whatever its name) whose one segment is `segment`, by absolute path."""
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXT-X-MEDIA-SEQUENCE:0\n"
        f"#EXTINF:2.0,\n{segment.resolve()}\n#EXT-X-ENDLIST\n"
    )
    return path


def write_ffconcat(path: Path, target: Path) -> Path:
    """An ffconcat list (whatever its name) that includes `target` by absolute path."""
    path.write_text(f"ffconcat version 1.0\nfile '{target.resolve()}'\n")
    return path


def truncated_copy(source: Path, dest: Path, *, keep_fraction: float) -> Path:
    """The first `keep_fraction` of `source`'s bytes, as an interrupted upload leaves it."""
    data = source.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep_fraction)])
    return dest


def _picture(width: int, height: int, pattern: Pattern) -> np.ndarray:
    if pattern == "solid":
        return np.full((height, width, 3), (40, 90, 160), dtype=np.uint8)
    columns = np.arange(width) * len(BAR_COLOURS) // width
    return np.ascontiguousarray(np.broadcast_to(BAR_COLOURS[columns], (height, width, 3)))


def _with_marker(base: np.ndarray, index: int, frame_count: int) -> np.ndarray:
    height, width, _ = base.shape
    side = max(4, min(width, height) // 8)
    left = (width - side) * index // max(1, frame_count - 1)
    top = (height - side) // 2
    frame = base.copy()
    frame[top : top + side, left : left + side] = 0
    return frame


def _tone(duration_s: float, rate: int, hz: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(duration_s * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)[np.newaxis, :]


def _encode_audio(container: av.container.OutputContainer, stream, samples: np.ndarray) -> None:
    """Encode planar float samples (channels x n) through a resampler sized to the encoder."""
    layout = stream.layout.name
    rate = stream.codec_context.sample_rate
    source_layout = "stereo" if samples.shape[0] == 2 else "mono"
    if layout != source_layout:
        samples = np.tile(samples[:1], (2 if layout == "stereo" else 1, 1))
    resampler = av.AudioResampler(
        format=stream.codec_context.format.name,
        layout=layout,
        rate=rate,
        frame_size=stream.codec_context.frame_size or None,
    )
    block = 4096
    for start in range(0, samples.shape[1], block):
        chunk = np.ascontiguousarray(samples[:, start : start + block])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = Fraction(1, rate)
        for out in resampler.resample(frame):
            container.mux(stream.encode(out))
    for out in resampler.resample(None):
        container.mux(stream.encode(out))
    container.mux(stream.encode(None))


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def stored_size(size: tuple[int, int], rotation: int) -> tuple[int, int]:
    """The size of the stored pictures of a video shown at `size` after `rotation`."""
    width, height = size
    return (height, width) if rotation % 180 else (width, height)


def stored_on_its_side(image: np.ndarray, rotation: int) -> np.ndarray:
    """The pixels a camera stores for `image` when it asks players to turn them by `rotation`
    degrees counter-clockwise (np.rot90 turns counter-clockwise, so this turns back)."""
    return np.ascontiguousarray(np.rot90(image, -(rotation // 90)))
