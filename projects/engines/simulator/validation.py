"""Request validation: every rule of the contract, answered with its code and a precise message.

Cheap checks on the body's fields come first and are reported together; media is only
downloaded and inspected once the body itself is sound, as a real service would do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from projects.engines import limits, rules
from projects.engines.rules import RuleViolation
from projects.engines.simulator import media
from projects.engines.simulator.errors import ApiError
from projects.engines.simulator.jobs import AdvancedJob, BasicJob
from projects.engines.simulator.state import Session, Store
from projects.engines.voices import UnknownVoiceError, get_voice


@dataclass(frozen=True)
class Common:
    """Fields every create takes besides its inputs."""

    external_task_id: str
    callback_url: str


def _raise_if(violations: list[RuleViolation]) -> None:
    if violations:
        raise ApiError.from_violations(violations)


def require_object(body: object, field: str = "body") -> dict:
    if not isinstance(body, dict):
        raise ApiError(1200, f"The {field} must be a JSON object.")
    return body


def common_fields(body: dict) -> Common:
    external = body.get("external_task_id") or ""
    callback = body.get("callback_url") or ""
    if not isinstance(external, str):
        raise ApiError(1200, "external_task_id must be a string.")
    if not isinstance(callback, str):
        raise ApiError(1200, "callback_url must be a string.")
    if callback and not media.is_url(callback):
        raise ApiError(1201, f"callback_url {callback!r} is not an http(s) URL.")
    return Common(external_task_id=external, callback_url=callback)


# --- identify-face and videos ------------------------------------------------------------------


def video_source(
    fields: dict, store: Store, workdir: Path, video_limits: limits.VideoLimits
) -> tuple[Path, media.MediaFacts, dict]:
    """The video named by `video_id` or `video_url`, checked against `video_limits`.

    Returns its local path, what it is, and the `parent_video` object describing it.
    """
    video_id, video_url = fields.get("video_id") or "", fields.get("video_url") or ""
    _raise_if(rules.check_one_of("video_id", video_id, "video_url", video_url))
    if not isinstance(video_id, str) or not isinstance(video_url, str):
        raise ApiError(1200, "video_id and video_url must be strings.")
    if video_id:
        path, field, url = _own_video(video_id, store), "video_id", ""
    else:
        if not media.is_url(video_url):
            raise ApiError(1201, f"video_url {video_url!r} is not an http(s) URL.")
        path, field, url = workdir / "video", "video_url", video_url
        store.count_fetch(field)
        media.fetch(video_url, path, max_bytes=video_limits.max_bytes, field=field)
    facts = media.inspect(path, field=field)
    _raise_if(
        rules.check_video_file(
            video_format=facts.format,
            size_bytes=facts.size_bytes,
            duration_ms=facts.duration_ms,
            width=facts.width,
            height=facts.height,
            video_limits=video_limits,
            field=field,
        )
    )
    parent = {"id": video_id, "url": url, "duration": duration_text(facts.duration_ms)}
    return path, facts, parent


def _own_video(video_id: str, store: Store) -> Path:
    """A video this simulator made (Kling accepts its own videos by id, for 30 days)."""
    found = store.files.get(video_id)
    if found is None:
        raise ApiError(1201, f"video_id {video_id!r} is not a video made by this account.")
    if store.clock.now_s() - found.created_s > limits.VIDEO_ID_TTL_S:
        raise ApiError(1201, f"video_id {video_id!r} is older than 30 days.")
    return found.path


def duration_text(duration_ms: int) -> str:
    """Durations are strings of seconds in the contract."""
    return f"{duration_ms / 1000:.3f}".rstrip("0").rstrip(".")


# --- audio ---------------------------------------------------------------------------------


def audio_file(
    value: str, workdir: Path, field: str, store: Store | None = None
) -> tuple[Path, media.MediaFacts]:
    """Audio given as a URL or Base64, checked for format, size and 2-60 s length."""
    path = workdir / field
    if media.is_url(value):
        if store is not None:
            store.count_fetch(field)
        media.fetch(value, path, max_bytes=limits.AUDIO.max_bytes, field=field)
    else:
        media.decode_base64(value, path, max_bytes=limits.AUDIO.max_bytes, field=field)
    facts = media.inspect(path, field=field)
    _raise_if(
        rules.check_audio_file(
            audio_format=facts.format if not facts.has_video else "video",
            size_bytes=facts.size_bytes,
            duration_ms=facts.duration_ms,
            field=field,
        )
    )
    return path, facts


# --- advanced lip-sync ------------------------------------------------------------------------


def advanced_job(body: dict, store: Store, workdir: Path) -> tuple[AdvancedJob, Session, Common]:
    common = common_fields(body)
    session_id = body.get("session_id")
    _raise_if(rules.check_required("session_id", session_id))
    if not isinstance(session_id, str):
        raise ApiError(1200, "session_id must be a string.")
    session = store.session(session_id)
    choice = _single_face_choice(body.get("face_choose"))
    face_id = choice.get("face_id")
    _raise_if(rules.check_required("face_choose[0].face_id", face_id))
    track = session.faces.get(str(face_id))
    if track is None:
        known = ", ".join(session.faces) or "none"
        raise ApiError(1201, f"face_id {face_id!r} is not in this session (faces: {known}).")
    _raise_if(_choice_field_violations(choice))
    _raise_if(_watermark_violations(body.get("watermark_info")))
    if choice.get("audio_id"):
        audio_path, audio_ms = tts_audio(choice["audio_id"], store)
    else:
        audio_path, facts = audio_file(choice["sound_file"], workdir, "sound_file", store)
        audio_ms = facts.duration_ms
    face_window = session.face_data_by_id(str(face_id))
    _raise_if(
        rules.check_advanced_timing(
            audio_ms=audio_ms,
            video_ms=session.video_ms,
            face_start_ms=face_window["start_time"],
            face_end_ms=face_window["end_time"],
            sound_start_ms=choice["sound_start_time"],
            sound_end_ms=choice["sound_end_time"],
            sound_insert_ms=choice["sound_insert_time"],
        )
    )
    job = AdvancedJob(
        video_path=session.video_path,
        audio_path=audio_path,
        track=track,
        sound_start_ms=choice["sound_start_time"],
        sound_end_ms=choice["sound_end_time"],
        sound_insert_ms=choice["sound_insert_time"],
        sound_volume=float(choice.get("sound_volume", 1)),
        original_audio_volume=float(choice.get("original_audio_volume", 1)),
        watermark=bool((body.get("watermark_info") or {}).get("enabled")),
    )
    return job, session, common


def tts_audio(audio_id: str, store: Store) -> tuple[Path, int]:
    """A TTS audio_id of this account, still valid and 2-60 s long: its file and length."""
    audio = store.audio(audio_id)
    low, high = limits.TTS_AUDIO_FOR_ADVANCED_MS
    if not low <= audio.duration_ms <= high:
        raise ApiError(
            1201,
            f"audio_id {audio_id!r} is {duration_text(audio.duration_ms)} s long; "
            f"face_choose takes TTS audio of {low // 1000}-{high // 1000} s.",
        )
    return audio.path, audio.duration_ms


def _single_face_choice(face_choose: object) -> dict:
    if not isinstance(face_choose, list) or not face_choose:
        raise ApiError(1200, "face_choose is required: a list with the one face to lip-sync.")
    if len(face_choose) > 1:
        raise ApiError(
            1201, f"Only one face can be lip-synced per task; face_choose has {len(face_choose)}."
        )
    return require_object(face_choose[0], "face_choose[0]")


def _choice_field_violations(choice: dict) -> list[RuleViolation]:
    found = rules.check_one_of(
        "audio_id", choice.get("audio_id"), "sound_file", choice.get("sound_file")
    )
    for name in ("audio_id", "sound_file"):
        if choice.get(name) is not None and not isinstance(choice[name], str):
            found += [RuleViolation(1200, name, f"{name} must be a string.")]
    for name in ("sound_start_time", "sound_end_time", "sound_insert_time"):
        found += rules.check_integer_ms(name, choice.get(name))
    for name in ("sound_volume", "original_audio_volume"):
        found += rules.check_volume(name, choice.get(name, 1))
    return found


def _watermark_violations(watermark_info: object) -> list[RuleViolation]:
    if watermark_info is None:
        return []
    if not isinstance(watermark_info, dict) or not isinstance(
        watermark_info.get("enabled", False), bool
    ):
        message = 'watermark_info must look like {"enabled": true}.'
        return [RuleViolation(1200, "watermark_info", message)]
    return []


# --- basic lip-sync ---------------------------------------------------------------------------


def basic_job(
    fields: dict, store: Store, workdir: Path, *, default_audio_type: str | None = None
) -> tuple[BasicJob, dict]:
    """Validate a basic lip-sync's inputs (the official `input` object or the proxy's flat body).

    Returns the job and the parent video description.
    """
    mode = fields.get("mode")
    _raise_if(rules.check_required("mode", mode))
    if mode not in ("text2video", "audio2video"):
        raise ApiError(1201, f"mode must be 'text2video' or 'audio2video', not {mode!r}.")
    if mode == "text2video":
        _raise_if(_text_violations(fields))
    else:
        _raise_if(_audio_choice_violations(fields, default_audio_type))
    video_path, _, parent = video_source(fields, store, workdir, limits.BASIC_VIDEO)
    if mode == "text2video":
        job = BasicJob(
            video_path=video_path,
            mode=mode,
            text=fields["text"],
            voice_id=fields["voice_id"],
            voice_language=fields.get("voice_language", "en"),
            voice_speed=float(rules.round_voice_speed(fields.get("voice_speed", 1.0))),
        )
        return job, parent
    audio_type = fields.get("audio_type") or default_audio_type
    field = "audio_url" if audio_type == "url" else "audio_file"
    audio_path, _ = audio_file(fields[field], workdir, field, store)
    return BasicJob(video_path=video_path, mode=mode, audio_path=audio_path), parent


def _text_violations(fields: dict) -> list[RuleViolation]:
    text, voice_id = fields.get("text"), fields.get("voice_id")
    if text is not None and not isinstance(text, str):
        return [RuleViolation(1200, "text", "text must be a string.")]
    found = rules.check_text(text or "")
    found += rules.check_required("voice_id", voice_id)
    if voice_id:
        try:
            get_voice(str(voice_id))
        except UnknownVoiceError:
            found += [RuleViolation(1201, "voice_id", f"voice_id {voice_id!r} is not a voice.")]
    found += rules.check_voice_language(fields.get("voice_language", "en"))
    return found + rules.check_voice_speed(fields.get("voice_speed", 1.0))


def _audio_choice_violations(fields: dict, default_audio_type: str | None) -> list:
    audio_type = fields.get("audio_type") or default_audio_type
    if audio_type is None:
        return rules.check_required("audio_type", None)
    if audio_type not in ("file", "url"):
        message = f"audio_type must be 'file' or 'url', not {audio_type!r}."
        return [RuleViolation(1201, "audio_type", message)]
    field = "audio_url" if audio_type == "url" else "audio_file"
    value = fields.get(field)
    if not value or not isinstance(value, str):
        message = f"audio_type is {audio_type!r}, so {field} is required."
        return [RuleViolation(1200, field, message)]
    if audio_type == "url" and not media.is_url(value):
        return [RuleViolation(1201, field, f"audio_url {value!r} is not an http(s) URL.")]
    return []


# --- text to speech -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice_id: str
    voice_language: str
    voice_speed: float


def speech_request(body: dict) -> SpeechRequest:
    """`POST /v1/audio/tts`: text up to 1000 characters, a voice in its own language, a speed.

    Some copies of the reference say a voice answers "voice id not found" in a language it does
    not speak; the simulator keeps that stricter reading.
    """
    text, voice_id = body.get("text"), body.get("voice_id")
    if text is not None and not isinstance(text, str):
        raise ApiError(1200, "text must be a string.")
    found = rules.check_tts_text(text or "")
    found += rules.check_required("voice_id", voice_id)
    language = body.get("voice_language", "en")
    found += rules.check_voice_language(language)
    found += rules.check_voice_speed(body.get("voice_speed", 1.0))
    _raise_if(found)
    try:
        voice = get_voice(str(voice_id))
    except UnknownVoiceError:
        raise ApiError(1201, f"voice id not found: {voice_id!r} is not a voice.") from None
    if language not in voice.own_languages:
        raise ApiError(1201, f"voice id not found: {voice_id!r} does not speak {language!r}.")
    return SpeechRequest(
        text=text or "",
        voice_id=voice.voice_id,
        voice_language=language,
        voice_speed=float(rules.round_voice_speed(body.get("voice_speed", 1.0))),
    )
