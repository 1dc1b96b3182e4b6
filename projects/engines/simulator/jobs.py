"""What a task needs to be rendered, once its request has been validated."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AdvancedJob:
    video_path: Path
    audio_path: Path
    track: Any  # the local engine's FaceTrackResult for the chosen face
    sound_start_ms: int
    sound_end_ms: int
    sound_insert_ms: int
    sound_volume: float
    original_audio_volume: float
    watermark: bool


@dataclass(frozen=True)
class BasicJob:
    video_path: Path
    mode: str  # text2video | audio2video
    text: str = ""
    voice_id: str = ""
    voice_language: str = "en"
    voice_speed: float = 1.0
    audio_path: Path | None = None
