"""Audio for the local engine: decode to one format, mix as the contract says, measure speech.

Everything here works on float32 arrays shaped (channels, samples) at `SAMPLE_RATE`, stereo,
so that a clip and a video's own sound can be added sample for sample.
"""

from __future__ import annotations

import os

import av
import numpy as np

SAMPLE_RATE = 48_000
CHANNELS = 2
# Above this level the limiter starts to bend the signal; below it samples pass untouched.
LIMITER_KNEE = 0.9


def ms_to_samples(ms: float) -> int:
    return round(ms * SAMPLE_RATE / 1000)


def silence(duration_ms: float) -> np.ndarray:
    return np.zeros((CHANNELS, ms_to_samples(duration_ms)), dtype=np.float32)


def decode_audio(path: str | os.PathLike) -> np.ndarray:
    """The first audio stream of any audio or video file, as float32 stereo at SAMPLE_RATE.

    A file without an audio stream gives an empty array (0 samples): the caller decides
    whether that means silence or an error. The result stops at the stream's declared
    duration, so an AAC encoder's padding at the end does not lengthen the sound.
    """
    with av.open(os.fspath(path)) as container:
        if not container.streams.audio:
            return np.zeros((CHANNELS, 0), dtype=np.float32)
        stream = container.streams.audio[0]
        samples = _decode_stream(container, stream)
        if stream.duration is not None and stream.time_base is not None:
            samples = samples[:, : round(stream.duration * stream.time_base * SAMPLE_RATE)]
    return samples


def _decode_stream(container: av.container.InputContainer, stream: av.AudioStream) -> np.ndarray:
    # Mono is resampled as mono and copied to both sides: FFmpeg's own mono-to-stereo upmix
    # treats mono as a centre channel and lowers it by 3 dB, which would change the volume.
    mono = stream.codec_context.channels == 1
    resampler = av.AudioResampler(
        format="fltp", layout="mono" if mono else "stereo", rate=SAMPLE_RATE
    )
    chunks = []
    for frame in container.decode(stream):
        chunks.extend(out.to_ndarray() for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray() for out in resampler.resample(None))
    if not chunks:
        return np.zeros((CHANNELS, 0), dtype=np.float32)
    samples = np.concatenate(chunks, axis=1).astype(np.float32, copy=False)
    return np.repeat(samples, CHANNELS, axis=0) if mono else samples


def audio_duration_ms(samples: np.ndarray) -> int:
    return round(samples.shape[1] * 1000 / SAMPLE_RATE)


def fit_length(samples: np.ndarray, length: int) -> np.ndarray:
    """Cut or pad with silence to exactly `length` samples."""
    if samples.shape[1] >= length:
        return samples[:, :length]
    padding = np.zeros((samples.shape[0], length - samples.shape[1]), dtype=np.float32)
    return np.concatenate([samples, padding], axis=1)


def mix_contract_audio(
    video_audio: np.ndarray,
    clip: np.ndarray,
    *,
    sound_start_ms: int,
    sound_end_ms: int,
    sound_insert_ms: int,
    sound_volume: float,
    original_audio_volume: float,
    video_duration_ms: int,
) -> np.ndarray:
    """The soundtrack of an advanced lip-sync result, with the contract's field semantics.

    The clip is cropped to [sound_start_ms, sound_end_ms], placed at sound_insert_ms on the
    video's timeline and added to the video's own sound; each side is scaled by its volume
    (0-2). The result is exactly as long as the video (a clip running past the end is cut).
    Samples that would clip pass through `soft_limit`.
    """
    length = ms_to_samples(video_duration_ms)
    mixed = fit_length(video_audio, length) * np.float32(original_audio_volume)
    cropped = clip[:, ms_to_samples(sound_start_ms) : ms_to_samples(sound_end_ms)]
    insert_at = min(ms_to_samples(sound_insert_ms), length)
    placed = cropped[:, : length - insert_at]
    mixed[:, insert_at : insert_at + placed.shape[1]] += placed * np.float32(sound_volume)
    return soft_limit(mixed)


def soft_limit(samples: np.ndarray, knee: float = LIMITER_KNEE) -> np.ndarray:
    """Keep samples inside (-1, 1) without hard clipping.

    A soft knee rather than peak normalisation: with volumes up to 2 only the loudest peaks
    exceed full scale, and normalising the whole track would make everything quieter than the
    volumes the user chose. Below the knee samples are returned unchanged; above it they are
    bent along a tanh curve that meets the straight line with the same slope (no click) and
    never goes beyond full scale.
    """
    magnitude = np.abs(samples)
    over = magnitude > knee
    if not over.any():
        return samples.astype(np.float32, copy=False)
    headroom = 1.0 - knee
    bent = knee + headroom * np.tanh((magnitude[over] - knee) / headroom)
    limited = samples.astype(np.float32, copy=True)
    limited[over] = np.sign(samples[over]) * bent
    return limited


def frame_rms(samples: np.ndarray, fps: float, frame_count: int) -> np.ndarray:
    """RMS of the mono mix over each video frame's window (centred on the frame's time)."""
    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    window = max(1, round(SAMPLE_RATE / fps))
    rms = np.zeros(frame_count, dtype=np.float32)
    for index in range(frame_count):
        centre = round(index * SAMPLE_RATE / fps)
        chunk = mono[max(0, centre - window // 2) : centre + window // 2 + 1]
        if chunk.size:
            rms[index] = float(np.sqrt(np.mean(chunk.astype(np.float64) ** 2)))
    return rms


def mouth_openness(samples: np.ndarray, fps: float, frame_count: int) -> np.ndarray:
    """How open the mouth should be per video frame (0-1), from the loudness of a clip
    already placed on the timeline.

    Openness is the frame RMS relative to the clip's loud level (95th percentile of voiced
    frames), gated below 8 % so breath and hiss keep the mouth shut, then smoothed with a fast
    attack and a slower release, as jaws open quickly and close a little more slowly.
    """
    rms = frame_rms(samples, fps, frame_count)
    voiced = rms[rms > 1e-4]
    loud = float(np.percentile(voiced, 95)) if voiced.size else 0.0
    if loud <= 0:
        return np.zeros(frame_count, dtype=np.float32)
    level = np.clip(rms / loud, 0.0, 1.0)
    gated = np.clip((level - 0.08) / 0.92, 0.0, 1.0)
    return _attack_release(gated, attack=0.7, release=0.45)


def _attack_release(values: np.ndarray, *, attack: float, release: float) -> np.ndarray:
    """One-pole smoothing with separate rates for rising and falling values."""
    smoothed = np.zeros_like(values, dtype=np.float32)
    state = 0.0
    for index, value in enumerate(values):
        rate = attack if value > state else release
        state += rate * (float(value) - state)
        smoothed[index] = state
    return smoothed
