"""Waveform peaks for the timeline, in the shape wavesurfer.js v7 takes as its `peaks` option.

wavesurfer draws `peaks` (one array per channel, values in [-1, 1]) over `duration` seconds
without decoding the audio in the browser. Each peak is, like wavesurfer's own exportPeaks(),
the sample of largest magnitude in its slice, sign kept. The audio is decoded as a stream and
folded into peaks frame by frame, so memory stays at one frame plus the peaks themselves.
"""

from __future__ import annotations

from pathlib import Path

import av
import av.container
import numpy as np

from projects.mediakit.errors import MediaError
from projects.mediakit.safeopen import first_audio_stream, open_input

PEAK_DECIMALS = 4
# Peaks are computed at this rate; the slice length in samples follows from it.
ANALYSIS_RATE = 16_000


def waveform_peaks(
    path: Path | str,
    *,
    peaks_per_second: int = 50,
    max_peaks: int = 4000,
    max_channels: int = 2,
) -> dict:
    """{"peaks": [[...], ...], "duration": s, "peaks_per_second": r, "channels": n}.

    The rate is lowered for long files so no channel has more than `max_peaks` values.
    """
    try:
        with open_input(Path(path)) as container:
            stream = first_audio_stream(container)
            if stream is None:
                raise MediaError("This file has no sound, so there is no waveform to draw.")
            return _peaks_of(container, stream, peaks_per_second, max_peaks, max_channels)
    except av.error.FFmpegError as error:
        raise MediaError(
            "We could not read the sound in this file; it may be damaged. Export it again."
        ) from error


def _peaks_of(
    container: av.container.InputContainer,
    stream: av.AudioStream,
    peaks_per_second: int,
    max_peaks: int,
    max_channels: int,
) -> dict:
    duration_s = max((container.duration or 0) / 1_000_000, 0.001)
    rate = max(1, min(peaks_per_second, int(max_peaks / duration_s)))
    channels = min(max_channels, stream.codec_context.channels or 1)
    folder = _PeakFolder(channels, ANALYSIS_RATE // rate, max_peaks)
    resampler = av.AudioResampler(
        format="fltp", layout="mono" if channels == 1 else "stereo", rate=ANALYSIS_RATE
    )
    stream.codec_context.thread_count = 1
    for frame in container.decode(stream):
        for resampled in resampler.resample(frame):
            folder.add(resampled.to_ndarray())
        if folder.full:
            break
    for resampled in resampler.resample(None):
        folder.add(resampled.to_ndarray())
    peaks = folder.finish()
    return {
        "peaks": peaks,
        "duration": round(duration_s, 3),
        "peaks_per_second": rate,
        "channels": channels,
    }


class _PeakFolder:
    """Turns a stream of (channels x n) sample blocks into one peak per `slice_len` samples."""

    def __init__(self, channels: int, slice_len: int, max_peaks: int) -> None:
        self.slice_len = max(1, slice_len)
        self.max_peaks = max_peaks
        self.carry = np.zeros((channels, 0), dtype=np.float32)
        self.peaks: list[list[float]] = [[] for _ in range(channels)]

    @property
    def full(self) -> bool:
        return len(self.peaks[0]) >= self.max_peaks

    def add(self, block: np.ndarray) -> None:
        samples = np.concatenate([self.carry, block[: len(self.peaks)]], axis=1)
        whole = samples.shape[1] // self.slice_len * self.slice_len
        self._fold(samples[:, :whole])
        self.carry = samples[:, whole:]

    def finish(self) -> list[list[float]]:
        if self.carry.shape[1]:
            self._fold(self.carry)  # the last, shorter slice
        return [channel[: self.max_peaks] for channel in self.peaks]

    def _fold(self, samples: np.ndarray) -> None:
        if not samples.shape[1] or self.full:
            return
        slices = samples.reshape(samples.shape[0], -1, min(self.slice_len, samples.shape[1]))
        strongest = np.abs(slices).argmax(axis=2)
        values = np.take_along_axis(slices, strongest[..., np.newaxis], axis=2)[..., 0]
        values = np.clip(np.round(values.astype(np.float64), PEAK_DECIMALS), -1.0, 1.0)
        for channel, row in zip(self.peaks, values, strict=True):
            channel.extend(float(value) for value in row)
