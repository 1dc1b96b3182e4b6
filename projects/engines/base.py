"""The engine interface: what the local engine, the Kling client and the proxy client share.

Plain dataclasses in and out, one error type. Nothing here imports Django, so the engines can
be used (and tested) on their own, and the Kling simulator can reuse the local engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable


class EngineName(StrEnum):
    """The engines the app can run on (the `LIPSYNC_ENGINE` setting)."""

    LOCAL = "local"
    KLING = "kling"
    PROXY = "proxy"

    @property
    def label(self) -> str:
        return _ENGINE_LABELS[self]

    @property
    def description(self) -> str:
        """What the engine in use makes, in a sentence for the pages."""
        return _ENGINE_DESCRIPTIONS[self]

    @property
    def is_remote(self) -> bool:
        """A remote engine fetches our files by URL and may call us back."""
        return self is not EngineName.LOCAL


_ENGINE_LABELS = {
    EngineName.LOCAL: "Local engine (preview quality)",
    EngineName.KLING: "Kling",
    EngineName.PROXY: "Kling through the API proxy",
}


class TaskKind(StrEnum):
    """The two lip-syncs an engine makes: on one chosen face, or on the whole video."""

    ADVANCED = "advanced"
    BASIC = "basic"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_ENGINE_DESCRIPTIONS = {
    EngineName.LOCAL: "The local engine on this server makes the lip-sync: a preview-quality "
    "result (Kling makes the production one).",
    EngineName.KLING: "Kling, the production engine, makes the lip-sync.",
    EngineName.PROXY: "Kling, the production engine, makes the lip-sync (through the API proxy).",
}

_KIND_LABELS = {
    TaskKind.ADVANCED: "Chosen face",
    TaskKind.BASIC: "Whole video",
}

# A task's state as the engine reports it (Kling spells success "succeed"). The app's own,
# longer lifecycle is `projects.models.TaskStatus`.
EngineStatus = Literal["submitted", "processing", "succeed", "failed"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeed", "failed"})


@dataclass(frozen=True)
class MediaRef:
    """Where an engine finds a file: a local path (local engine), a URL, inline bytes, or the
    id the engine itself gave it (a Kling-made video's `video_id`, within its 30 days)."""

    path: str | None = None
    url: str | None = None
    data: bytes | None = None
    engine_id: str | None = None

    def __post_init__(self) -> None:
        given = [value for value in (self.path, self.url, self.data, self.engine_id) if value]
        if len(given) != 1:
            raise ValueError("MediaRef needs exactly one of path, url, data or engine_id.")


@dataclass(frozen=True)
class FaceTrack:
    """One face that can be lip-synced, and the window (ms) in which it can be."""

    face_id: str
    start_ms: int
    end_ms: int
    image_url: str | None = None  # remote engines: where the face crop can be fetched
    image_jpeg: bytes | None = None  # local engine: the face crop itself


@dataclass(frozen=True)
class FaceSession:
    session_id: str
    expires_at: datetime
    faces: list[FaceTrack]
    credits: str | None = None  # identify-face's `final_unit_deduction`, when it bills one


@dataclass(frozen=True)
class SpeechRequest:
    """Text to speech with one of the engine's voices (Kling's `POST /v1/audio/tts`)."""

    text: str
    voice_id: str
    voice_language: Literal["zh", "en"] = "en"
    voice_speed: float = 1.0


@dataclass(frozen=True)
class SpeechAudio:
    audio_id: str  # Kling's `audio_id`, which face_choose takes for 30 days
    url: str
    duration_s: float | None = None


@dataclass(frozen=True)
class SpeechTask:
    task_id: str
    status: EngineStatus
    message: str = ""
    audios: list[SpeechAudio] = field(default_factory=list)
    credits: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class AdvancedRequest:
    """An advanced (face-picked) lip-sync, with the contract's field semantics, times in ms."""

    session_id: str
    face_id: str
    sound_start_ms: int
    sound_end_ms: int
    sound_insert_ms: int
    audio: MediaRef | None = None  # one of audio / audio_id
    audio_id: str | None = None
    sound_volume: float = 1.0
    original_audio_volume: float = 1.0
    watermark: bool = False
    external_task_id: str = ""
    callback_url: str | None = None


@dataclass(frozen=True)
class BasicRequest:
    """A whole-video lip-sync from text + voice (text2video) or from audio (audio2video)."""

    video: MediaRef
    mode: Literal["text2video", "audio2video"]
    text: str = ""
    voice_id: str = ""
    voice_language: Literal["zh", "en"] = "en"
    voice_speed: float = 1.0
    audio: MediaRef | None = None
    external_task_id: str = ""
    callback_url: str | None = None


@dataclass(frozen=True)
class ResultVideo:
    id: str
    url: str  # http(s) URL, or file:// for the local engine
    duration_s: float | None = None
    watermark_url: str | None = None


@dataclass(frozen=True)
class EngineTask:
    """An engine's view of one task, as returned by create, get and list."""

    task_id: str
    status: EngineStatus
    kind: TaskKind = TaskKind.ADVANCED
    message: str = ""
    external_task_id: str = ""
    videos: list[ResultVideo] = field(default_factory=list)
    credits: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Cure(StrEnum):
    """What cures a failure that repeating the same request cannot: the person's next step."""

    NONE = ""
    CHANGE_CLIP = "change_clip"  # the engine refused the content or a value: change the input
    IDENTIFY_AGAIN = "identify_again"  # the face session is gone: search the faces again


class EngineError(Exception):
    """Every failure of an engine, whatever its source.

    `message` is written for the person using the app. `permanent` means retrying the same
    request cannot help; `retry_after` (seconds) is the engine's hint when it gave one.
    `ambiguous` marks a create whose fate is unknown (sent, but no answer came back).
    `unreachable` means the request never got through (the engine is down or cut off): the
    caller backs off instead of repeating it at once. `cure` names what the person must change
    when repeating cannot help (see `Cure`); `lost_session` marks a face session the engine no
    longer knows (it restarted, or the session expired early).
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | str | None = None,
        http_status: int | None = None,
        permanent: bool = True,
        retry_after: float | None = None,
        ambiguous: bool = False,
        unreachable: bool = False,
        cure: str = "",
        lost_session: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status
        self.permanent = permanent
        self.retry_after = retry_after
        self.ambiguous = ambiguous
        self.unreachable = unreachable
        self.cure = cure
        self.lost_session = lost_session

    def __repr__(self) -> str:
        return (
            f"EngineError({self.message!r}, code={self.code!r}, http_status={self.http_status!r}, "
            f"permanent={self.permanent})"
        )


@runtime_checkable
class Engine(Protocol):
    """What the pipeline needs from an engine. All calls block; run them in Celery workers."""

    name: str

    def identify_faces(self, video: MediaRef) -> FaceSession: ...

    def create_advanced(self, request: AdvancedRequest) -> EngineTask: ...

    def create_basic(self, request: BasicRequest) -> EngineTask: ...

    def get_task(self, task_id: str, kind: TaskKind = TaskKind.ADVANCED) -> EngineTask: ...

    def list_tasks(
        self, kind: TaskKind = TaskKind.ADVANCED, page: int = 1, size: int = 30
    ) -> list[EngineTask]: ...
