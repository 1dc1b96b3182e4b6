"""Voice samples for the voice picker: spoken once by a worker, then served as files.

A sample comes from the voice that will speak: with Kling's voices (speech.py) Kling speaks it
once per voice and language, the first time someone asks, and it is kept and served from our
storage after that; otherwise the offline voice records it.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from django.conf import settings

from projects import background
from projects.engines.voices import get_voice
from projects.services import speech

SAMPLE_LANGUAGES = ("en", "zh")
# A recording takes about a second; a job asked for this long ago was lost with its worker.
REQUEST_GIVE_UP_S = 60


def sample_path(voice_id: str, language: str) -> Path:
    speaker = "kling" if speech.by_engine() else "offline"
    return Path(settings.VAR_DIR) / "voice-samples" / speaker / f"{voice_id}-{language}.wav"


def sample_or_request(voice_id: str, language: str) -> Path | None:
    """The sample's file when it exists; otherwise ask a worker to record it and return None.

    Raises UnknownVoiceError (a ValueError) for a voice or language we do not have.
    """
    voice = get_voice(voice_id)
    if language not in SAMPLE_LANGUAGES:
        raise ValueError(f"No voice speaks {language!r}.")
    if speech.by_engine() and language not in voice.own_languages:
        raise ValueError(f"Kling's voice {voice.short_name} does not speak {language!r}.")
    path = sample_path(voice_id, language)
    if path.exists():
        return path
    if _first_request(path):
        background.make_voice_sample.delay_on_commit(voice_id, language)
    return None


def _first_request(sample: Path) -> bool:
    """True for the request that asks a worker to record `sample`; False while that job is
    under way (the page asks again every half second until the sample is there).

    A marker file, made atomically, says a job was asked for: several web processes share it.
    A marker older than REQUEST_GIVE_UP_S belongs to a job that was lost; it is asked again.
    """
    marker = _request_marker(sample)
    marker.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return True
    except FileExistsError:
        pass
    try:
        asked_at = marker.stat().st_mtime
    except FileNotFoundError:
        return False  # the job has just finished: the next look finds the sample
    if time.time() - asked_at < REQUEST_GIVE_UP_S:
        return False
    marker.unlink(missing_ok=True)
    return _first_request(sample)


def _request_marker(sample: Path) -> Path:
    return sample.with_name(sample.name + ".requested")


def make_sample(voice_id: str, language: str) -> None:
    """Record the sample (on a worker). Two requests at once each write their own scratch
    file and the second rename simply replaces the first's identical sample."""
    target = sample_path(voice_id, language)
    if target.exists():
        _request_marker(target).unlink(missing_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, scratch = tempfile.mkstemp(dir=target.parent, suffix=".part.wav")
    os.close(handle)
    try:
        _record(voice_id, language, Path(scratch))
        Path(scratch).replace(target)
    finally:
        Path(scratch).unlink(missing_ok=True)
        _request_marker(target).unlink(missing_ok=True)


def _record(voice_id: str, language: str, out_path: Path) -> None:
    """The sample sentence in this voice: Kling's own when Kling speaks, else offline."""
    from projects.engines.local.tts import SAMPLE_SENTENCES, voice_sample

    if not speech.by_engine():
        voice_sample(voice_id, language, out_path)
        return
    with tempfile.TemporaryDirectory(dir=out_path.parent) as folder:
        spoken = speech.speak(
            Path(folder),
            text=SAMPLE_SENTENCES[language],
            voice_id=voice_id,
            language=language,
            speed=1.0,
        )
        spoken.path.replace(out_path)


def content_type(sample: Path) -> str:
    """What a kept sample is, read from its first bytes (Kling may answer mp3 or wav)."""
    with sample.open("rb") as handle:
        head = handle.read(12)
    if head.startswith(b"RIFF"):
        return "audio/wav"
    if head[4:8] == b"ftyp":
        return "audio/mp4"
    return "audio/mpeg"
