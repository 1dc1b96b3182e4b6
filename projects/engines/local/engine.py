"""The local engine: the Engine interface answered offline, on this machine.

It keeps the Kling contract's semantics so the app cannot tell it from Kling: identify-face
sessions that expire after 24 h, the same request rules and messages (projects.engines.rules,
shared with the simulator and the app's forms), one task record per create, and the result as
a file:// URL. Creates render synchronously: the app calls engines from Celery workers only.

Everything lives under `workdir` as plain files, so several worker processes can share it:
  sessions/<session_id>.json   a face session (the video, its face tracks, when it expires)
  tasks/<task_id>.json         a task record (status, message, result paths)
  external_ids/<sha256>        claims an external_task_id (created with O_EXCL: unique)
  inputs/, results/            audio and videos given as bytes, rendered videos
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import av

from projects.engines import limits, rules
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    EngineName,
    EngineTask,
    FaceSession,
    FaceTrack,
    MediaRef,
    ResultVideo,
    TaskKind,
)
from projects.engines.local import audio, render
from projects.engines.local.faces import FaceTrackResult, identify_faces
from projects.engines.voices import UnknownVoiceError, get_voice

logger = logging.getLogger(__name__)

NOT_FOUND = 1203
# A record still "processing" this long after its last update belongs to a worker that died.
STALE_PROCESSING_S = 3600
NO_FACE_MESSAGE = "There is no human in the video."
# PyAV's demuxer names, as the contract's file formats.
AUDIO_FORMATS = {"wav": "wav", "mp3": "mp3", "aac": "aac", "mov,mp4,m4a,3gp,3g2,mj2": "m4a"}


class LocalEngine:
    """Lip-sync on this machine: dlib faces, espeak-ng speech, a numpy mouth warp, x264."""

    name = EngineName.LOCAL

    def __init__(
        self,
        workdir: Path,
        *,
        session_ttl_s: float = limits.SESSION_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.session_ttl_s = session_ttl_s
        self.clock = clock
        for folder in ("sessions", "tasks", "external_ids", "inputs", "results"):
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)

    # --- identify-face ------------------------------------------------------------------------

    def identify_faces(self, video: MediaRef) -> FaceSession:
        """Find the faces of a 2-60 s video; start a session that lasts `session_ttl_s`.

        The local engine takes any frame size and container PyAV reads (Kling's 512-2160 px
        and mp4/mov rules are for Kling's servers; the app conforms videos before sending them
        there). An empty face list is an answer, not an error.
        """
        path = self._input_path(video, "video")
        source = _probe_video(path)
        _raise_if(_video_duration_violations(source.duration_ms, limits.ADVANCED_VIDEO))
        try:
            tracks = identify_faces(path)
        except ValueError as error:
            raise EngineError(str(error), code=rules.ILLEGAL_VALUE) from error
        now = self.clock()
        session = {
            "session_id": uuid.uuid4().hex,
            "video_path": str(path),
            "video_ms": source.duration_ms,
            "created_at": now,
            "expires_at": now + self.session_ttl_s,
            "faces": [track.to_dict() for track in tracks],
        }
        _write_json(self._session_file(session["session_id"]), session)
        self._forget_expired_sessions(now)
        return FaceSession(
            session_id=session["session_id"],
            expires_at=_datetime(session["expires_at"]),
            faces=[_face_track(track) for track in tracks],
        )

    # --- advanced lip-sync --------------------------------------------------------------------

    def create_advanced(self, request: AdvancedRequest) -> EngineTask:
        """Check the request by the contract's rules, then render it; return the ended task."""
        session = self._session(request.session_id)
        track = _face_in(session, request.face_id)
        _raise_if(rules.check_one_of("audio_id", request.audio_id, "sound_file", request.audio))
        if request.audio_id:
            raise EngineError(
                f"audio_id {request.audio_id!r} is not a TTS audio of the local engine: "
                "upload the audio file instead.",
                code=rules.ILLEGAL_VALUE,
            )
        _raise_if(_advanced_field_violations(request))
        audio_path = self._input_path(request.audio, "audio")
        audio_ms = _checked_audio(audio_path)
        _raise_if(
            rules.check_advanced_timing(
                audio_ms=audio_ms,
                video_ms=session["video_ms"],
                face_start_ms=track.start_ms,
                face_end_ms=track.end_ms,
                sound_start_ms=request.sound_start_ms,
                sound_end_ms=request.sound_end_ms,
                sound_insert_ms=request.sound_insert_ms,
            )
        )
        record = self._start_task(
            TaskKind.ADVANCED, request.external_task_id, session["video_path"]
        )
        return self._run(
            record,
            lambda out, marked: render.render_advanced(
                session["video_path"],
                audio_path,
                track,
                sound_start_ms=request.sound_start_ms,
                sound_end_ms=request.sound_end_ms,
                sound_insert_ms=request.sound_insert_ms,
                sound_volume=request.sound_volume,
                original_audio_volume=request.original_audio_volume,
                out_path=out,
                watermark_out_path=marked,
            ),
            watermark=request.watermark,
        )

    # --- basic lip-sync -----------------------------------------------------------------------

    def create_basic(self, request: BasicRequest) -> EngineTask:
        """Lip-sync the whole video to typed text (local speech) or to an audio file."""
        video_path = self._input_path(request.video, "video")
        source = _probe_video(video_path)
        _raise_if(_video_duration_violations(source.duration_ms, limits.BASIC_VIDEO))
        _raise_if(_basic_field_violations(request))
        audio_path = None
        if request.mode == "audio2video":
            audio_path = self._input_path(request.audio, "audio")
            _checked_audio(audio_path)
        record = self._start_task(TaskKind.BASIC, request.external_task_id, str(video_path))
        return self._run(
            record, lambda out, _marked: self._render_basic(request, video_path, audio_path, out)
        )

    def _render_basic(
        self, request: BasicRequest, video_path: Path, audio_path: Path | None, out: Path
    ) -> render.RenderResult:
        from projects.engines.local.tts import synthesize_timed  # loads libespeak-ng

        phonemes = None
        if audio_path is None:
            audio_path = out.with_name(f"{out.stem}-speech.wav")
            phonemes = synthesize_timed(
                request.text,
                request.voice_id,
                request.voice_language,
                request.voice_speed,
                audio_path,
            ).phonemes
        tracks = identify_faces(video_path)
        if not tracks:
            raise render.RenderError(NO_FACE_MESSAGE)
        return render.render_basic(video_path, audio_path, tracks, out, phonemes=phonemes)

    # --- queries ------------------------------------------------------------------------------

    def get_task(self, task_id: str, kind: TaskKind = TaskKind.ADVANCED) -> EngineTask:
        record = self._record(task_id)
        if record is None or record["kind"] != kind:
            raise EngineError(
                f"There is no {kind} task {task_id!r}.", code=NOT_FOUND, http_status=404
            )
        return self._as_task(record)

    def list_tasks(
        self, kind: TaskKind = TaskKind.ADVANCED, page: int = 1, size: int = 30
    ) -> list[EngineTask]:
        """Newest first, `size` per page, like the contract's list endpoints."""
        _raise_if(rules.check_page(page, size))
        records = [_read_json(path) for path in (self.workdir / "tasks").glob("*.json")]
        records = [record for record in records if record and record["kind"] == kind]
        records.sort(key=lambda record: record["created_at"], reverse=True)
        return [self._as_task(record) for record in records[(page - 1) * size : page * size]]

    # --- tasks --------------------------------------------------------------------------------

    def _start_task(self, kind: TaskKind, external_task_id: str, video_path: str) -> dict:
        task_id = uuid.uuid4().hex
        if external_task_id:
            self._claim_external_id(external_task_id, task_id)
        now = self.clock()
        record = {
            "task_id": task_id,
            "kind": kind,
            "status": "processing",
            "message": "",
            "external_task_id": external_task_id,
            "parent_video": video_path,
            "created_at": now,
            "updated_at": now,
            "videos": [],
        }
        _write_json(self._task_file(task_id), record)
        return record

    def _run(
        self,
        record: dict,
        render_to: Callable[[Path, Path | None], render.RenderResult],
        *,
        watermark: bool = False,
    ) -> EngineTask:
        """Render, then store the task as succeed or failed; never let the failure escape."""
        results = self.workdir / "results"
        out = results / f"{record['task_id']}.mp4"
        marked = results / f"{record['task_id']}-watermark.mp4" if watermark else None
        try:
            result = render_to(out, marked)
        except (render.RenderError, UnknownVoiceError, ValueError) as error:
            return self._finish(record, "failed", str(error))
        except Exception:
            # Details go to the worker's log; the person sees a sentence, not a traceback.
            logger.exception("local render of task %s failed", record["task_id"])
            return self._finish(record, "failed", "The video could not be rendered.")
        video = {
            "id": record["task_id"],
            "path": str(out),
            "watermark_path": str(marked) if marked else None,
            "duration_ms": result.duration_ms,
        }
        return self._finish(record, "succeed", "", videos=[video])

    def _finish(
        self, record: dict, status: str, message: str, videos: list | None = None
    ) -> EngineTask:
        record.update(status=status, message=message, videos=videos or [])
        record["updated_at"] = self.clock()
        _write_json(self._task_file(record["task_id"]), record)
        return self._as_task(record)

    def _as_task(self, record: dict) -> EngineTask:
        status, message = record["status"], record["message"]
        if status == "processing" and self.clock() - record["updated_at"] > STALE_PROCESSING_S:
            status, message = "failed", "Rendering was interrupted; submit the task again."
        return EngineTask(
            task_id=record["task_id"],
            status=status,
            kind=record["kind"],
            message=message,
            external_task_id=record["external_task_id"],
            videos=[_result_video(video) for video in record["videos"]],
            credits="0",  # the local engine is free
            created_at=_datetime(record["created_at"]),
            updated_at=_datetime(record["updated_at"]),
        )

    def _claim_external_id(self, external_task_id: str, task_id: str) -> None:
        digest = hashlib.sha256(external_task_id.encode()).hexdigest()
        try:
            with open(self.workdir / "external_ids" / digest, "x") as claim:
                claim.write(task_id)
        except FileExistsError:
            raise EngineError(
                f"external_task_id {external_task_id!r} is already used by another task.",
                code=rules.ILLEGAL_VALUE,
            ) from None

    def _record(self, task_id: str) -> dict | None:
        if not _is_token(task_id):
            return None
        return _read_json(self._task_file(task_id))

    # --- sessions -----------------------------------------------------------------------------

    def _session(self, session_id: str) -> dict:
        session = _read_json(self._session_file(session_id)) if _is_token(session_id) else None
        if session is None:
            raise EngineError(
                f"session_id {session_id!r} is not a face session: identify the faces first.",
                code=rules.ILLEGAL_VALUE,
            )
        if self.clock() >= session["expires_at"]:
            raise EngineError(
                "The face session has expired (sessions last 24 h): identify the faces again.",
                code=rules.ILLEGAL_VALUE,
            )
        return session

    def _forget_expired_sessions(self, now: float) -> None:
        for path in (self.workdir / "sessions").glob("*.json"):
            session = _read_json(path)
            if session is not None and now >= session["expires_at"]:
                path.unlink(missing_ok=True)

    def _session_file(self, session_id: str) -> Path:
        return self.workdir / "sessions" / f"{session_id}.json"

    def _task_file(self, task_id: str) -> Path:
        return self.workdir / "tasks" / f"{task_id}.json"

    # --- inputs -------------------------------------------------------------------------------

    def _input_path(self, ref: MediaRef | None, what: str) -> Path:
        """A local file for `ref`: its path, a file:// URL, or its bytes saved under inputs/."""
        if ref is None:
            raise EngineError(f"The {what} is missing.", code=rules.MISSING_OR_INVALID)
        if ref.data:
            path = self.workdir / "inputs" / f"{uuid.uuid4().hex}-{what}"
            path.write_bytes(ref.data)
            return path
        if ref.url:
            parsed = urlparse(ref.url)
            if parsed.scheme != "file":
                raise EngineError(
                    f"The local engine works offline and cannot fetch {ref.url!r}: "
                    "give it the file instead.",
                    code=rules.ILLEGAL_VALUE,
                )
            path = Path(unquote(parsed.path))
        else:
            path = Path(ref.path)
        if not path.is_file():
            raise EngineError(f"The {what} file {str(path)!r} does not exist.", code=NOT_FOUND)
        return path.resolve()


# --- checks ------------------------------------------------------------------------------------


def _raise_if(violations: list[rules.RuleViolation]) -> None:
    if violations:
        raise EngineError(
            " ".join(violation.text for violation in violations),
            code=rules.response_code(violations),
            http_status=400,
            permanent=True,
        )


def _advanced_field_violations(request: AdvancedRequest) -> list[rules.RuleViolation]:
    found: list[rules.RuleViolation] = []
    for field, value in (
        ("sound_start_time", request.sound_start_ms),
        ("sound_end_time", request.sound_end_ms),
        ("sound_insert_time", request.sound_insert_ms),
    ):
        found += rules.check_integer_ms(field, value)
    found += rules.check_volume("sound_volume", request.sound_volume)
    found += rules.check_volume("original_audio_volume", request.original_audio_volume)
    return found


def _basic_field_violations(request: BasicRequest) -> list[rules.RuleViolation]:
    if request.mode == "audio2video":
        return rules.check_required("audio", request.audio)
    if request.mode != "text2video":
        return [
            rules.RuleViolation(
                rules.ILLEGAL_VALUE,
                "mode",
                f"mode must be 'text2video' or 'audio2video', not {request.mode!r}.",
            )
        ]
    found = rules.check_text(request.text)
    found += rules.check_voice_speed(request.voice_speed)
    found += rules.check_voice_language(request.voice_language)
    try:
        get_voice(request.voice_id)
    except UnknownVoiceError:
        found.append(
            rules.RuleViolation(
                rules.ILLEGAL_VALUE, "voice_id", f"voice_id {request.voice_id!r} is not a voice."
            )
        )
    return found


def _video_duration_violations(
    duration_ms: int, video_limits: limits.VideoLimits
) -> list[rules.RuleViolation]:
    low, high = video_limits.min_duration_ms, video_limits.max_duration_ms
    if low <= duration_ms <= high:
        return []
    return [
        rules.RuleViolation(
            rules.ILLEGAL_VALUE,
            "video",
            f"The video must last {rules.seconds(low)} to {rules.seconds(high)}; "
            f"it lasts {rules.seconds(duration_ms)}.",
            "Trim it to fit." if duration_ms > high else "Use a longer video.",
        )
    ]


def _probe_video(path: Path) -> render.SourceVideo:
    try:
        return render.probe_video(path)
    except render.RenderError as error:
        raise EngineError(str(error), code=rules.ILLEGAL_VALUE) from error


def _checked_audio(path: Path) -> int:
    """The audio's length in ms, once its format, size and length pass the contract."""
    try:
        with av.open(str(path)) as container:
            audio_format = AUDIO_FORMATS.get(container.format.name, container.format.name)
        duration_ms = audio.audio_duration_ms(audio.decode_audio(path))
    except av.FFmpegError as error:
        raise EngineError(
            "The audio could not be read: use an mp3, wav, m4a or aac file.",
            code=rules.ILLEGAL_VALUE,
        ) from error
    _raise_if(
        rules.check_audio_file(
            audio_format=audio_format, size_bytes=path.stat().st_size, duration_ms=duration_ms
        )
    )
    return duration_ms


def _face_in(session: dict, face_id: str) -> FaceTrackResult:
    for face in session["faces"]:
        if str(face["track_id"]) == str(face_id):
            return FaceTrackResult.from_dict(face)
    known = ", ".join(str(face["track_id"]) for face in session["faces"]) or "none"
    raise EngineError(
        f"face_id {face_id!r} is not in this session (faces: {known}).",
        code=rules.ILLEGAL_VALUE,
    )


# --- records -----------------------------------------------------------------------------------


def _face_track(track: FaceTrackResult) -> FaceTrack:
    return FaceTrack(
        face_id=str(track.track_id),
        start_ms=track.start_ms,
        end_ms=track.end_ms,
        image_jpeg=track.thumbnail_jpeg,
    )


def _result_video(video: dict) -> ResultVideo:
    watermark = video.get("watermark_path")
    return ResultVideo(
        id=video["id"],
        url=Path(video["path"]).as_uri(),
        duration_s=video["duration_ms"] / 1000,
        watermark_url=Path(watermark).as_uri() if watermark else None,
    )


def _datetime(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _is_token(value: str) -> bool:
    """Ids we made are hex: anything else cannot name a file of ours (no path tricks)."""
    return bool(value) and all(char in "0123456789abcdef" for char in value)


def _write_json(path: Path, data: dict) -> None:
    """Write atomically: a reader in another worker never sees half a file."""
    temporary = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
