"""Request bodies for Kling's lip-sync endpoints, built from the engine-neutral requests."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, Literal

from projects.engines import limits, rules
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    MediaRef,
    SpeechRequest,
)


def advanced_body(request: AdvancedRequest, external_task_id: str) -> dict:
    choice: dict[str, Any] = {
        "face_id": request.face_id,
        "sound_start_time": int(request.sound_start_ms),
        "sound_end_time": int(request.sound_end_ms),
        "sound_insert_time": int(request.sound_insert_ms),
        "sound_volume": request.sound_volume,
        "original_audio_volume": request.original_audio_volume,
    }
    if request.audio_id:
        choice["audio_id"] = request.audio_id
    elif request.audio is not None:
        choice["sound_file"] = audio_value(request.audio)[1]
    else:
        raise EngineError("Choose an audio clip or a generated voice before submitting.")
    body: dict[str, Any] = {
        "session_id": request.session_id,
        "face_choose": [choice],
        "watermark_info": {"enabled": request.watermark},
        "external_task_id": external_task_id,
    }
    if request.callback_url:
        body["callback_url"] = request.callback_url
    return body


def basic_input(request: BasicRequest) -> dict:
    """The basic lip-sync's `input` (official) or flat fields (proxy)."""
    fields: dict[str, Any] = {**video_fields(request.video), "mode": request.mode}
    if request.mode == "text2video":
        fields.update(
            text=request.text,
            voice_id=request.voice_id,
            voice_language=request.voice_language,
            voice_speed=speed_value(request.voice_speed),
        )
        return fields
    if request.audio is None:
        raise EngineError("Choose an audio file for an audio-driven lip-sync.")
    audio_type, value = audio_value(request.audio)
    fields["audio_type"] = audio_type
    fields["audio_file" if audio_type == "file" else "audio_url"] = value
    return fields


def speed_value(speed: float) -> float:
    """Kling's voice_speed: one decimal, rounded half-up (1.25 is sent as 1.3)."""
    return float(rules.round_voice_speed(speed))


def speech_body(request: SpeechRequest) -> dict:
    """`POST /v1/audio/tts`: the text, a voice in its own language, the rounded speed."""
    return {
        "text": request.text,
        "voice_id": request.voice_id,
        "voice_language": request.voice_language,
        "voice_speed": speed_value(request.voice_speed),
    }


def video_fields(video: MediaRef) -> dict[str, str]:
    """A Kling-made video by its `video_id` (Kling need not fetch it again), else by URL."""
    if video.engine_id:
        return {"video_id": video.engine_id}
    return {"video_url": video_url(video)}


def video_url(video: MediaRef) -> str:
    if not video.url:
        raise EngineError(
            "Kling fetches videos by URL; this video has none. Configure public media storage."
        )
    return video.url


def audio_value(audio: MediaRef) -> tuple[Literal["file", "url"], str]:
    """Base64 when the audio fits Kling's 5 MB, else its URL."""
    if audio.url:
        return "url", audio.url
    raw = audio.data if audio.data is not None else Path(audio.path or "").read_bytes()
    if len(raw) > limits.AUDIO.max_bytes:
        size_mb = len(raw) / limits.MB
        raise EngineError(
            f"The audio is {size_mb:.1f} MB; Kling takes at most 5 MB. Use a shorter clip or "
            "a compressed format such as mp3."
        )
    return "file", base64.b64encode(raw).decode("ascii")
