"""What the mouth should do at each video frame: how far to open, and in which shape.

Openness follows the speech's loudness (audio.mouth_openness). The shape follows the sound
class being spoken: an open vowel (a) opens tall and wide, a rounded one (o, u) narrow and
round, a spread one (i, e) wide and low, and m/b/p close the lips. For typed text the speech
synthesiser reports its phonemes and their times, which give the class exactly. For uploaded
speech the class is estimated from the spectrum by a small neural network trained on the
synthesiser's own labelled speech (train_sounds.py writes it to sound_classes.json).
"""

from __future__ import annotations

import functools
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from projects.engines.local import audio

# The order of the columns of every class-weight array.
CLASSES = ("closed", "open", "round", "spread", "neutral")
CLOSED, OPEN, ROUND, SPREAD, NEUTRAL = range(len(CLASSES))

MODEL_PATH = Path(__file__).with_name("sound_classes.json")

# IPA letters by the mouth shape they need; anything else (most consonants, schwa) is neutral.
_CLASS_OF_LETTER: dict[str, int] = {
    **dict.fromkeys("mbpɱ", CLOSED),
    **dict.fromkeys("aɑæɐʌɒä", OPEN),
    **dict.fromkeys("oɔuʊɵøyʉœw", ROUND),
    **dict.fromkeys("iɪeɛjɨᵻ", SPREAD),
}
# The lips must meet for m/b/p whatever the neighbours do, so a bilabial outweighs them.
_CLOSED_EMPHASIS = 3.0


class TimedPhoneme(Protocol):
    """A phoneme with its time in the clip (tts.Phoneme has it)."""

    name: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class SpeechFeatures:
    """Per video frame: openness (0-1) and the weights of the sound classes (rows sum to 1)."""

    openness: np.ndarray  # (frames,)
    classes: np.ndarray  # (frames, len(CLASSES))

    def silenced_outside(self, inside: np.ndarray) -> SpeechFeatures:
        """The same features with the mouth shut where `inside` (bool per frame) is false."""
        return SpeechFeatures(openness=self.openness * inside, classes=self.classes)


def speech_features(
    samples: np.ndarray,
    fps: float,
    frame_count: int,
    phonemes: Sequence[TimedPhoneme] | None = None,
) -> SpeechFeatures:
    """The mouth's openness and shape per frame, for a clip already placed on the timeline.

    With `phonemes` (times on the same timeline) the shapes come from them; otherwise from
    the spectrum.
    """
    openness = audio.mouth_openness(samples, fps, frame_count)
    if phonemes is not None:
        classes = classes_from_phonemes(phonemes, fps, frame_count)
    else:
        classes = classes_from_spectrum(samples, fps, frame_count)
    return SpeechFeatures(openness=openness, classes=classes.astype(np.float32))


# --- from phonemes -----------------------------------------------------------------------------


def sound_class(phoneme: str) -> int:
    """The class of an IPA phoneme name, by its first letter (stress and length marks aside)."""
    letters = _letters(phoneme)
    return _CLASS_OF_LETTER.get(letters[0], NEUTRAL) if letters else NEUTRAL


def _letters(phoneme: str) -> str:
    """The phoneme's letters without stress, length, tone or syllable marks."""
    return "".join(
        char
        for char in unicodedata.normalize("NFD", phoneme)
        if char not in "ˈˌːˑ.-_0123456789" and not unicodedata.combining(char)
    )


def _class_spans(phonemes: Sequence[TimedPhoneme]) -> list[tuple[float, float, int]]:
    """(start ms, end ms, class) spans; a diphthong is its first vowel, then its second."""
    spans = []
    for phoneme in phonemes:
        letters = _letters(phoneme.name)
        first = sound_class(letters)
        last = _CLASS_OF_LETTER.get(letters[-1], first) if len(letters) > 1 else first
        if last != first and last != CLOSED:
            middle = (phoneme.start_ms + phoneme.end_ms) / 2
            spans += [(phoneme.start_ms, middle, first), (middle, phoneme.end_ms, last)]
        else:
            spans.append((phoneme.start_ms, phoneme.end_ms, first))
    return spans


def classes_from_phonemes(
    phonemes: Sequence[TimedPhoneme], fps: float, frame_count: int
) -> np.ndarray:
    """Class weights per frame: each class's share of the frame's time, bilabials emphasised.

    A frame outside every phoneme is neutral.
    """
    weights = np.zeros((frame_count, len(CLASSES)), dtype=np.float64)
    period_ms = 1000 / fps
    for start_ms, end_ms, klass in _class_spans(phonemes):
        first = max(0, int((start_ms + period_ms / 2) // period_ms))
        last = min(frame_count - 1, int((end_ms + period_ms / 2) // period_ms))
        for number in range(first, last + 1):
            window_start = (number - 0.5) * period_ms
            overlap = min(end_ms, window_start + period_ms) - max(start_ms, window_start)
            if overlap > 0:
                emphasis = _CLOSED_EMPHASIS if klass == CLOSED else 1.0
                weights[number, klass] += emphasis * overlap / period_ms
    return _normalised(weights)


def _normalised(weights: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 1e-9
    weights[empty, NEUTRAL] = 1.0
    total[empty] = 1.0
    return weights / total


# --- from the spectrum -------------------------------------------------------------------------


@dataclass(frozen=True)
class SpectralSettings:
    """How a frame's spectrum is summarised: cepstra of a mel filter bank, with context."""

    window: int = 1536  # samples at audio.SAMPLE_RATE: 32 ms
    fft_size: int = 2048
    bands: int = 26
    low_hz: float = 80.0
    high_hz: float = 7600.0
    coefficients: int = 12  # cepstra 1..12; c0 (loudness) is left out
    context_ms: tuple[float, ...] = (-30.0, 0.0, 30.0)


def spectral_features(
    mono: np.ndarray, times_s: np.ndarray, settings: SpectralSettings = SpectralSettings()
) -> np.ndarray:
    """(len(times_s), coefficients x len(context)) cepstra around each time of a 48 kHz clip."""
    columns = [_cepstra(mono, times_s + offset / 1000, settings) for offset in settings.context_ms]
    return np.concatenate(columns, axis=1)


def _cepstra(mono: np.ndarray, times_s: np.ndarray, settings: SpectralSettings) -> np.ndarray:
    half = settings.window // 2
    padded = np.pad(mono.astype(np.float32, copy=False), (half, half + 1))
    starts = np.round(times_s * audio.SAMPLE_RATE).astype(np.int64)
    starts = np.clip(starts, 0, mono.size)
    index = starts[:, None] + np.arange(settings.window)[None, :]
    windows = padded[index] * _hann(settings.window)
    power = np.abs(np.fft.rfft(windows, n=settings.fft_size, axis=1)) ** 2
    bands = power @ _mel_bank(settings).T
    return np.log10(bands + 1e-10) @ _dct(settings).T


@functools.cache
def _hann(size: int) -> np.ndarray:
    return np.hanning(size).astype(np.float32)


def _mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595 * np.log10(1 + np.asarray(hz) / 700)


@functools.cache
def _mel_bank(settings: SpectralSettings) -> np.ndarray:
    """(bands, fft_size // 2 + 1) triangular filters evenly spaced on the mel scale."""
    freqs = np.fft.rfftfreq(settings.fft_size, 1 / audio.SAMPLE_RATE)
    edges_mel = np.linspace(_mel(settings.low_hz), _mel(settings.high_hz), settings.bands + 2)
    edges = 700 * (10 ** (edges_mel / 2595) - 1)
    bank = np.zeros((settings.bands, freqs.size), dtype=np.float32)
    for band in range(settings.bands):
        low, centre, high = edges[band : band + 3]
        rising = (freqs - low) / (centre - low)
        falling = (high - freqs) / (high - centre)
        bank[band] = np.clip(np.minimum(rising, falling), 0, None)
    return bank


@functools.cache
def _dct(settings: SpectralSettings) -> np.ndarray:
    """Rows 1..coefficients of the orthonormal DCT-II over the bands."""
    n = settings.bands
    k = np.arange(1, settings.coefficients + 1)[:, None]
    return (np.sqrt(2 / n) * np.cos(np.pi * k * (np.arange(n)[None, :] + 0.5) / n)).astype(
        np.float32
    )


@dataclass(frozen=True)
class SoundModel:
    """A one-hidden-layer network from standardised spectral features to class probabilities."""

    settings: SpectralSettings
    mean: np.ndarray
    scale: np.ndarray
    hidden_weights: np.ndarray
    hidden_bias: np.ndarray
    output_weights: np.ndarray
    output_bias: np.ndarray

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        standard = (features - self.mean) / self.scale
        hidden = np.tanh(standard @ self.hidden_weights + self.hidden_bias)
        logits = hidden @ self.output_weights + self.output_bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        return odds / odds.sum(axis=1, keepdims=True)

    def to_json(self) -> dict:
        return {
            "classes": list(CLASSES),
            "settings": {
                "window": self.settings.window,
                "fft_size": self.settings.fft_size,
                "bands": self.settings.bands,
                "low_hz": self.settings.low_hz,
                "high_hz": self.settings.high_hz,
                "coefficients": self.settings.coefficients,
                "context_ms": list(self.settings.context_ms),
            },
            **{
                name: np.round(getattr(self, name), 5).tolist()
                for name in (
                    "mean",
                    "scale",
                    "hidden_weights",
                    "hidden_bias",
                    "output_weights",
                    "output_bias",
                )
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> SoundModel:
        if tuple(data["classes"]) != CLASSES:
            raise ValueError(f"the sound model's classes {data['classes']} are not {CLASSES}")
        settings = data["settings"]
        return cls(
            settings=SpectralSettings(**{**settings, "context_ms": tuple(settings["context_ms"])}),
            **{
                name: np.asarray(data[name], dtype=np.float32)
                for name in (
                    "mean",
                    "scale",
                    "hidden_weights",
                    "hidden_bias",
                    "output_weights",
                    "output_bias",
                )
            },
        )


@functools.cache
def sound_model() -> SoundModel:
    """The shipped model (sound_classes.json beside this module)."""
    return SoundModel.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


def classes_from_spectrum(samples: np.ndarray, fps: float, frame_count: int) -> np.ndarray:
    """Class probabilities per frame estimated from the sound, smoothed over three frames."""
    mono = samples.mean(axis=0) if samples.ndim == 2 else samples
    model = sound_model()
    times_s = np.arange(frame_count) / fps
    probabilities = model.probabilities(spectral_features(mono, times_s, model.settings))
    # Lips move slower than a frame's spectrum changes: a short blur keeps them from flicker.
    padded = np.pad(probabilities, ((1, 1), (0, 0)), mode="edge")
    return 0.25 * padded[:-2] + 0.5 * padded[1:-1] + 0.25 * padded[2:]
