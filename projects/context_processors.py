"""Values every template may read."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from projects.engines import limits
from projects.engines.base import EngineName

ENGINE_LIMITS = {
    "video": limits.ADVANCED_VIDEO,
    "quick_video": limits.BASIC_VIDEO,
    "audio": limits.AUDIO,
}


def engine_limits(request: HttpRequest) -> dict:
    """The engine's limits (projects/engines/limits.py), so pages quote them, not copies, and
    the engine in use, so that they say which it is, and which voice speaks typed text
    (Kling's, or the offline one)."""
    from projects.services import speech

    return {
        "engine_limits": ENGINE_LIMITS,
        "engine_in_use": EngineName(settings.LIPSYNC_ENGINE),
        "speaker_note": speech.speaker_label(),
        "kling_ids": settings.LIPSYNC_ENGINE != "local",  # Kling-made videos by their id
    }
