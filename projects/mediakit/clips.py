"""A job's clip: the crops of several audio files placed at offsets, silence between and around.

What the planner calls a clip (planner.Job.pieces, clip_ms) becomes one AAC file in an .m4a,
within the engine's audio limits (2-60 s, 5 MB). Each crop is scaled by its line's volume, as
it is heard in the dub, and the sum passes the contract's soft limiter. The file runs a little
past `clip_ms` in silence, so that an engine measuring it a few ms short still accepts
sound_end_time = clip_ms.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from projects.engines.limits import AUDIO
from projects.engines.local import audio
from projects.mediakit.conform import audio_bitrate_for, written_atomically
from projects.mediakit.errors import MediaError

TAIL_MS = 100


@dataclass(frozen=True)
class ClipPiece:
    """[crop_start_ms, crop_end_ms) of the audio file at `path`, placed `offset_ms` into the
    clip, at `volume`."""

    path: Path
    crop_start_ms: int
    crop_end_ms: int
    offset_ms: int
    volume: float = 1.0


def build_clip(pieces: Sequence[ClipPiece], clip_ms: int, out: str | os.PathLike) -> Path:
    """Write the clip to `out` (an .m4a); MediaError in plain words if a piece cannot be used."""
    out = Path(out)
    if not AUDIO.min_duration_ms <= clip_ms <= AUDIO.max_duration_ms:
        raise MediaError(
            f"A clip must last {AUDIO.min_duration_ms // 1000} to "
            f"{AUDIO.max_duration_ms // 1000} s for the engine."
        )
    length_ms = min(clip_ms + TAIL_MS, AUDIO.max_duration_ms)
    mix = audio.silence(length_ms)
    for piece in pieces:
        crop = read_crop(piece.path, piece.crop_start_ms, piece.crop_end_ms)
        at = audio.ms_to_samples(piece.offset_ms)
        if piece.offset_ms < 0 or at + crop.shape[1] > audio.ms_to_samples(clip_ms) + 1:
            raise MediaError("A line does not fit inside its clip.")
        mix[:, at : at + crop.shape[1]] += crop * np.float32(piece.volume)
    _write_m4a(audio.soft_limit(mix), out, audio_bitrate_for(length_ms, AUDIO.max_bytes))
    return out


def read_crop(path: Path, start_ms: int, end_ms: int) -> np.ndarray:
    """Samples [start_ms, end_ms) of an audio file, as float32 stereo at 48 kHz; silence
    where the file is shorter."""
    try:
        samples = audio.decode_audio(path)
    except (av.FFmpegError, OSError) as error:
        raise MediaError(f"The audio file {Path(path).name} could not be read.") from error
    crop = samples[:, audio.ms_to_samples(start_ms) : audio.ms_to_samples(end_ms)]
    return audio.fit_length(crop, audio.ms_to_samples(end_ms) - audio.ms_to_samples(start_ms))


def _write_m4a(samples: np.ndarray, out: Path, bitrate: int) -> None:
    with (
        written_atomically(out) as part,
        av.open(str(part), "w", format="ipod", options={"movflags": "+faststart"}) as file,
    ):
        stream = file.add_stream("aac", rate=audio.SAMPLE_RATE)
        stream.layout = "stereo"
        stream.bit_rate = bitrate
        for start in range(0, samples.shape[1], audio.SAMPLE_RATE):
            chunk = np.ascontiguousarray(samples[:, start : start + audio.SAMPLE_RATE])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate = audio.SAMPLE_RATE
            frame.pts, frame.time_base = start, Fraction(1, audio.SAMPLE_RATE)
            file.mux(stream.encode(frame))
        file.mux(stream.encode(None))
