"""Offline text-to-speech for the local engine, with libespeak-ng through ctypes.

Each Kling voice id (projects.engines.voices) is played by an espeak-ng voice of the asked
language with a variant of the same gender and a pitch for its age group. The result is not
Kling's voice, only a stand-in that says the same words at the same speed, which is what a
preview needs. The library ships inside the `espeakng_loader` wheel, with its data, so
nothing is downloaded.

libespeak-ng keeps global state (one current voice, one callback), so every call takes
`_ESPEAK_LOCK`; two threads of one worker cannot interleave their speech.
"""

from __future__ import annotations

import ctypes
import os
import threading
import wave
import zlib
from dataclasses import dataclass
from typing import Literal

import numpy as np

from projects.engines.limits import MAX_TEXT_CHARS, VOICE_SPEED_RANGE
from projects.engines.voices import UnknownVoiceError, Voice, get_voice

Language = Literal["zh", "en"]

# espeak-ng's C enums (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EE_OK = 0
_PARAM_RATE = 1
_PARAM_PITCH = 3
_PARAM_RANGE = 4
# espeak_Initialize options: report each phoneme as an event, named in IPA.
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_PHONEME_IPA = 0x0002
# espeak_EVENT types.
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7

# espeak-ng reads at 175 words per minute by default; Kling's speed 1.0 is a natural pace.
_WORDS_PER_MINUTE_AT_1X = 175

# Voice file names in espeak-ng-data: "en" is British English, "en-us" American.
_ESPEAK_LANGUAGE: dict[str, str] = {"zh": "cmn", "en": "en-us"}
# The UK voices (uk_boy1, uk_man2, uk_oldman3) keep a British accent in English.
_UK_PREFIX = "uk_"
_BRITISH = "en"

# Variants per gender and age group; the voice id picks one of them so that two voices of
# the same kind still sound a little different. Pitch (0-100, espeak's default 50) goes up
# for children and down for elders.
_VARIANTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("male", "child"): ("m3",),
    ("male", "young"): ("m3", "m2", "m5"),
    ("male", "adult"): ("m1", "m4", "m7"),
    ("male", "elder"): ("m6", "m8"),
    ("female", "child"): ("f4", "f2"),
    ("female", "young"): ("f2", "f4", "f5"),
    ("female", "adult"): ("f1", "f3", "f5"),
    ("female", "elder"): ("f3", "f1"),
}
_PITCH: dict[tuple[str, str], int] = {
    ("male", "child"): 85,
    ("male", "young"): 55,
    ("male", "adult"): 45,
    ("male", "elder"): 32,
    ("female", "child"): 90,
    ("female", "young"): 65,
    ("female", "adult"): 55,
    ("female", "elder"): 42,
}

_ESPEAK_LOCK = threading.Lock()


@dataclass(frozen=True)
class LocalVoice:
    """How espeak-ng plays one Kling voice in one language."""

    name: str  # e.g. "cmn+f2", "en+m6"
    pitch: int


def local_voice(voice: Voice, language: Language) -> LocalVoice:
    """The espeak-ng voice that stands in for `voice` speaking `language`."""
    base = _ESPEAK_LANGUAGE[language]
    if language == "en" and voice.voice_id.startswith(_UK_PREFIX):
        base = _BRITISH
    kind = (voice.gender, voice.age_group)
    variants = _VARIANTS[kind]
    # crc32 rather than hash(): the same voice must sound the same in every process.
    variant = variants[zlib.crc32(voice.voice_id.encode()) % len(variants)]
    return LocalVoice(name=f"{base}+{variant}", pitch=_PITCH[kind])


@dataclass(frozen=True)
class Phoneme:
    """One sound of the speech, as espeak-ng said it: its IPA name and when, in ms."""

    name: str  # e.g. "ˈɑː", "m", "ts.h"; "" is a pause
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class SpokenText:
    """A written WAV's length and the phonemes heard in it."""

    duration_ms: int
    phonemes: tuple[Phoneme, ...]


def synthesize(
    text: str,
    voice_id: str,
    language: str,
    speed: float,
    out_path: str | os.PathLike,
    *,
    max_chars: int = MAX_TEXT_CHARS,
) -> int:
    """Speak `text` with Kling voice `voice_id` into a 16-bit mono WAV; return its length in ms.

    Raises ValueError (UnknownVoiceError for a voice id) with a message for the user when the
    text is empty or longer than the contract's 120 characters, the speed is outside 0.8-2.0,
    or the language is neither zh nor en.
    """
    return synthesize_timed(
        text, voice_id, language, speed, out_path, max_chars=max_chars
    ).duration_ms


def synthesize_timed(
    text: str,
    voice_id: str,
    language: str,
    speed: float,
    out_path: str | os.PathLike,
    *,
    max_chars: int = MAX_TEXT_CHARS,
) -> SpokenText:
    """As `synthesize`, and also say which phoneme is heard when (for the mouth's shapes).

    `max_chars`: the lip-sync's text takes 120 characters, a text-to-speech clip 1000.
    """
    spoken = _checked_text(text, max_chars)
    _check_speed(speed)
    voice = local_voice(get_voice(voice_id), _checked_language(language))
    return speak_to_file(spoken, voice, speed, out_path)


def speak_to_file(
    text: str, voice: LocalVoice, speed: float, out_path: str | os.PathLike
) -> SpokenText:
    """Speak already checked `text` with an espeak-ng voice into a 16-bit mono WAV."""
    samples, rate, events = _speak(text, voice, speed)
    if samples.size == 0:
        raise ValueError("The text produced no speech: write words the voice can read.")
    _write_wav(out_path, samples, rate)
    duration_ms = round(samples.size * 1000 / rate)
    return SpokenText(duration_ms, _phonemes(events, duration_ms))


def _phonemes(events: list[tuple[int, str]], duration_ms: int) -> tuple[Phoneme, ...]:
    """Phonemes from (start ms, name) events: each lasts until the next one starts."""
    ends = [start for start, _ in events[1:]] + [duration_ms]
    return tuple(
        Phoneme(name, start, min(end, duration_ms))
        for (start, name), end in zip(events, ends, strict=True)
        if end > start
    )


SAMPLE_SENTENCES: dict[str, str] = {
    "zh": "你好，这是我的声音。",
    "en": "Hello, this is how my voice sounds.",
}


def voice_sample(voice_id: str, language: str, out_path: str | os.PathLike) -> int:
    """A short sentence in `voice_id`'s local voice, for the voice picker; length in ms."""
    sentence = SAMPLE_SENTENCES[_checked_language(language)]
    return synthesize(sentence, voice_id, language, 1.0, out_path)


def _checked_text(text: str, max_chars: int = MAX_TEXT_CHARS) -> str:
    stripped = (text or "").strip()
    if not stripped:
        raise ValueError("The text to speak is empty.")
    if len(stripped) > max_chars:
        raise ValueError(
            f"The text is {len(stripped)} characters long; at most {max_chars} are allowed."
        )
    return stripped


def _check_speed(speed: float) -> None:
    low, high = VOICE_SPEED_RANGE
    if not isinstance(speed, int | float) or not low <= speed <= high:
        raise ValueError(f"The voice speed must be between {low} and {high}, not {speed!r}.")


def _checked_language(language: str) -> Language:
    if language not in _ESPEAK_LANGUAGE:
        raise ValueError(f"The voice language must be 'zh' or 'en', not {language!r}.")
    return language  # type: ignore[return-value]


def _write_wav(path: str | os.PathLike, samples: np.ndarray, rate: int) -> None:
    with wave.open(os.fspath(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())


# --- libespeak-ng -----------------------------------------------------------------------------


class _Event(ctypes.Structure):
    """espeak_EVENT (speak_lib.h); `name` is the union's phoneme name (UTF-8, up to 8 bytes)."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the speech
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("name", ctypes.c_char * 8),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Espeak:
    """The loaded library, initialised once per process for synchronous synthesis."""

    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data_path = espeakng_loader.get_data_path().encode()
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS,
            0,
            data_path,
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA,
        )
        if self.sample_rate <= 0:
            raise RuntimeError("The speech library could not start (espeak-ng data missing).")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, str]] = []
        # Kept on self: ctypes must not free the callback while the library holds it.
        self._callback = _SynthCallback(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav: ctypes.POINTER(ctypes.c_short), count: int, events) -> int:
        if count > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        index = 0
        while events and events[index].type != _EVENT_LIST_TERMINATED:
            event = events[index]
            if event.type == _EVENT_PHONEME:
                name = bytes(event.name).split(b"\0", 1)[0].decode("utf-8", "replace")
                self._events.append((event.audio_position, name))
            index += 1
        return 0  # 0 = carry on

    def speak(
        self, text: str, voice: LocalVoice, speed: float
    ) -> tuple[np.ndarray, list[tuple[int, str]]]:
        """The speech's samples and its phoneme events as (start ms, IPA name)."""
        if self.lib.espeak_SetVoiceByName(voice.name.encode()) != _EE_OK:
            raise RuntimeError(f"The speech library has no voice {voice.name!r}.")
        self.lib.espeak_SetParameter(_PARAM_RATE, round(_WORDS_PER_MINUTE_AT_1X * speed), 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, voice.pitch, 0)
        self.lib.espeak_SetParameter(_PARAM_RANGE, 50, 0)
        encoded = text.encode("utf-8")
        self._chunks, self._events = [], []
        status = self.lib.espeak_Synth(
            encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
        )
        self.lib.espeak_Synchronize()
        if status != _EE_OK:
            raise RuntimeError(f"The speech library failed (error {status}).")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16), []
        return np.concatenate(self._chunks).astype(np.int16, copy=False), self._events


_engine: _Espeak | None = None


def _speak(
    text: str, voice: LocalVoice, speed: float
) -> tuple[np.ndarray, int, list[tuple[int, str]]]:
    global _engine
    with _ESPEAK_LOCK:
        if _engine is None:
            _engine = _Espeak()
        samples, events = _engine.speak(text, voice, speed)
        return samples, _engine.sample_rate, events


__all__ = [
    "LocalVoice",
    "Phoneme",
    "SpokenText",
    "UnknownVoiceError",
    "local_voice",
    "speak_to_file",
    "synthesize",
    "synthesize_timed",
    "voice_sample",
]
