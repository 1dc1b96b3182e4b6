"""Speech from typed text, made by the engine that will lip-sync it.

On Kling (and on the API proxy when it offers text to speech, LIPSYNC_PROXY_TTS) Kling's own
voices speak: `POST /v1/audio/tts`, the audio downloaded through the safe fetcher, its
`audio_id` kept for 30 days so an advanced task can send the id instead of the file. The
local engine, and a proxy without text to speech, use the offline eSpeak NG voice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from django.conf import settings
from django.utils import timezone

from projects.engines import limits
from projects.engines.base import EngineError, SpeechRequest
from projects.fetch import FetchError, fetch_to_file
from projects.models import AudioClip
from projects.services.engines import engine_for, speaks_with_engine

DOWNLOAD_TIMEOUT_S = 120
DOWNLOAD_CAP = 50 * limits.MB
KNOWN_SUFFIXES = frozenset({".mp3", ".wav", ".m4a", ".aac"})


class SpeechError(Exception):
    """Speech could not be made; the message is for the person who asked for it."""


@dataclass(frozen=True)
class Spoken:
    path: Path
    audio_id: str = ""  # Kling's audio_id, when Kling spoke
    expires_at: datetime | None = None


def engine_name() -> str:
    return settings.LIPSYNC_ENGINE


def by_engine(name: str | None = None) -> bool:
    """Whether typed speech on this engine is spoken by Kling's voices (else offline)."""
    return speaks_with_engine(name or engine_name())


def speaker_label(name: str | None = None) -> str:
    """Which voice speaks typed text, for the page to say."""
    if by_engine(name):
        return "Kling's voices speak your text (Kling's text to speech)."
    if (name or engine_name()) == "proxy":
        return (
            "The API proxy offers no text to speech here: an offline voice (eSpeak NG) close "
            "to the chosen Kling voice speaks your text."
        )
    return "An offline voice (eSpeak NG) close to the chosen Kling voice speaks your text."


def speak(
    folder: Path,
    *,
    text: str,
    voice_id: str,
    language: str,
    speed: float,
    clip: AudioClip | None = None,
) -> Spoken:
    """Speak `text` into a file in `folder` with the engine's voice (or the offline one).

    `clip` is the audio clip the speech is for: the engine's calls are recorded against it.
    Raises SpeechError in plain words.
    """
    if by_engine():
        return _speak_with_kling(folder, text, voice_id, language, speed, clip)
    return _speak_offline(folder, text, voice_id, language, speed)


def _speak_with_kling(
    folder: Path, text: str, voice_id: str, language: str, speed: float, clip: AudioClip | None
) -> Spoken:
    engine = engine_for(engine_name(), audio=clip)
    try:
        task = engine.speak(SpeechRequest(text, voice_id, language, speed))  # type: ignore[attr-defined]
    except EngineError as error:
        raise SpeechError(error.message) from error
    finally:
        engine.close()  # type: ignore[attr-defined]
    audio = task.audios[0]
    target = folder / f"speech{_suffix(audio.url)}"
    try:
        fetch_to_file(
            audio.url,
            target,
            max_bytes=DOWNLOAD_CAP,
            total_timeout_s=DOWNLOAD_TIMEOUT_S,
            allowed_private_hosts=settings.LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS,
        )
    except FetchError as error:
        message = f"Kling made the speech but it could not be downloaded: {error}"
        raise SpeechError(message) from None
    expires_at = timezone.now() + timedelta(seconds=limits.AUDIO_ID_TTL_S)
    return Spoken(target, audio.audio_id, expires_at)


def _speak_offline(folder: Path, text: str, voice_id: str, language: str, speed: float) -> Spoken:
    from projects.engines.local.tts import synthesize
    from projects.engines.voices import UnknownVoiceError

    target = folder / "speech.wav"
    try:
        synthesize(text, voice_id, language, speed, target, max_chars=limits.TTS_MAX_TEXT_CHARS)
    except (UnknownVoiceError, ValueError) as error:
        raise SpeechError(str(error)) from None
    return Spoken(target)


def _suffix(url: str) -> str:
    suffix = PurePosixPath(urlparse(url).path).suffix.lower()
    return suffix if suffix in KNOWN_SUFFIXES else ".mp3"
