"""Reading Kling's answers generously: the sources disagree on shapes (docs/kling.md).

Times arrive as ints or strings, in ms or s; status words vary (`succeed`, `success`); bodies
come flat or in the envelope; the proxy has two error shapes. Everything ends as the
engine-neutral dataclasses of `projects.engines.base`, or as an `EngineError`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from projects.engines.base import (
    EngineError,
    EngineTask,
    FaceTrack,
    ResultVideo,
    SpeechAudio,
    SpeechTask,
    TaskKind,
)
from projects.engines.kling.errors import http_error, kling_error, proxy_error, retry_after_seconds

RECORD_BODY_CHARS = 4096
LONG_STRING_CHARS = 256  # longer strings in a recorded body are Base64 blobs: elided
SECRET_KEYS = frozenset({"authorization", "token", "access_key", "secret_key", "api_key"})


@dataclass(frozen=True)
class Answer:
    """One HTTP answer, read whole."""

    http_status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, or None


def json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def interpret(answer: Answer, create: bool) -> Any:
    """The answer's data, or the EngineError it stands for (the body's code decides)."""
    body = answer.body
    retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            if code == 0:
                return body.get("data")
            raise kling_error(
                code, str(body.get("message") or ""), answer.http_status, retry_after, create
            )
        if isinstance(code, str) and body.get("success") is not True:
            raise proxy_error(code, str(body.get("detail") or ""), answer.http_status, retry_after)
        if body.get("success") is False:
            error = body.get("error") or {}
            code = str(error.get("code") or "api_error")
            raise proxy_error(
                code, str(error.get("message") or ""), answer.http_status, retry_after
            )
        if 200 <= answer.http_status < 300:
            return body  # a flat body: the proxy's object, or data without its envelope
    if 200 <= answer.http_status < 300 and body is not None:
        return body
    raise http_error(answer.http_status, retry_after, create)


def require_object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise EngineError("Kling answered with an unexpected body; try again later.")
    return data


def body_code(body: Any) -> int | str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return body.get("code")


def request_id(body: Any, headers: httpx.Headers | None) -> str:
    if isinstance(body, dict):
        for key in ("request_id", "trace_id"):
            if body.get(key):
                return str(body[key])
    return (headers or {}).get("X-Request-Id", "")


def redacted_body(body: Any) -> str:
    """The body as JSON for the record: secrets masked, Base64 blobs elided, ~4 KB at most."""
    text = json.dumps(_redact(body), ensure_ascii=False) if body is not None else ""
    if len(text) > RECORD_BODY_CHARS:
        text = text[: RECORD_BODY_CHARS - 20] + "…[truncated]"
    return text


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "***" if str(key).lower() in SECRET_KEYS else _redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, str) and len(value) > LONG_STRING_CHARS and "://" not in value[:16]:
        return f"<{len(value)} characters elided>"
    return value


# --- tasks -------------------------------------------------------------------------------------

_STATUS_WORDS = {
    "submitted": "submitted",
    "queued": "submitted",
    "pending": "submitted",
    "processing": "processing",
    "running": "processing",
    "succeed": "succeed",
    "succeeded": "succeed",
    "success": "succeed",
    "failed": "failed",
    "fail": "failed",
    "failure": "failed",
}


def parse_task(
    data: dict, kind: TaskKind = TaskKind.ADVANCED, external_task_id: str = ""
) -> EngineTask:
    """An EngineTask from the official `data` object or the proxy's flat object."""
    if "task_status" not in data and ("state" in data or "success" in data):
        return _parse_proxy_object(data, kind, external_task_id)
    info = data.get("task_info") or {}
    videos = [_video(item) for item in (data.get("task_result") or {}).get("videos") or []]
    credits = data.get("final_unit_deduction")
    return EngineTask(
        task_id=str(data.get("task_id") or ""),
        status=_status(data.get("task_status")),
        kind=kind,
        message=str(data.get("task_status_msg") or ""),
        external_task_id=str(info.get("external_task_id") or external_task_id or ""),
        videos=[video for video in videos if video is not None],
        credits=str(credits) if credits not in (None, "") else None,
        created_at=_time(data.get("created_at")),
        updated_at=_time(data.get("updated_at")),
    )


def _parse_proxy_object(data: dict, kind: TaskKind, external_task_id: str) -> EngineTask:
    """`{success, task_id, video_id, video_url, duration, state}` (answer and callback)."""
    state = data.get("state") or ("succeed" if data.get("video_url") else "submitted")
    if data.get("success") is False:
        state = "failed"
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    videos = []
    if data.get("video_url"):
        videos.append(
            ResultVideo(
                id=str(data.get("video_id") or ""),
                url=str(data["video_url"]),
                duration_s=_float(data.get("duration")),
            )
        )
    return EngineTask(
        task_id=str(data.get("task_id") or ""),
        status=_status(state),
        kind=kind,
        message=str(error.get("message") or ""),
        external_task_id=external_task_id,
        videos=videos,
    )


def parse_callback(body: dict, kind: TaskKind = TaskKind.ADVANCED) -> EngineTask:
    """A callback's task: flat, wrapped in the envelope, or the proxy's object.

    Callbacks are not signed: use the result only as a hint to query the task.
    """
    if isinstance(body.get("data"), dict) and "code" in body:
        body = body["data"]
    return parse_task(body, kind)


def _status(value: Any) -> Any:
    word = str(value or "").strip().lower()
    if word not in _STATUS_WORDS:
        raise EngineError(f"Kling reported an unknown task status {value!r}; report this.")
    return _STATUS_WORDS[word]


def _video(item: Any) -> ResultVideo | None:
    if not isinstance(item, dict) or not item.get("url"):
        return None
    return ResultVideo(
        id=str(item.get("id") or ""),
        url=str(item["url"]),
        duration_s=_float(item.get("duration")),
        watermark_url=item.get("watermark_url") or None,
    )


def parse_speech(data: dict) -> SpeechTask:
    """A text-to-speech task: `task_result.audios[]{id, url, duration}` once it is done.

    Some copies answer the create with the audio at once, others with a task to poll: an
    answer with audios and no status counts as done.
    """
    audios = [_audio(item) for item in (data.get("task_result") or {}).get("audios") or []]
    audios = [audio for audio in audios if audio is not None]
    status = data.get("task_status") or ("succeed" if audios else "submitted")
    return SpeechTask(
        task_id=str(data.get("task_id") or ""),
        status=_status(status),
        message=str(data.get("task_status_msg") or ""),
        audios=audios,
        credits=_credits(data.get("final_unit_deduction")),
    )


def _audio(item: Any) -> SpeechAudio | None:
    if not isinstance(item, dict) or not item.get("url") or not item.get("id"):
        return None
    return SpeechAudio(
        audio_id=str(item["id"]), url=str(item["url"]), duration_s=_float(item.get("duration"))
    )


def _credits(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def charged_units(endpoint: str, body: Any) -> str | None:
    """Units a call itself was charged: identify-face's, or a finished speech's.

    A lip-sync task's charge is read from the task (its credits), not from every poll.
    """
    data = body.get("data") if isinstance(body, dict) and "code" in body else body
    if not isinstance(data, dict):
        return None
    if endpoint.lower().endswith("/identify-face"):
        return _credits(data.get("final_unit_deduction"))
    if "/audio/tts" in endpoint and str(data.get("task_status", "")).lower() == "succeed":
        return _credits(data.get("final_unit_deduction"))
    return None


def face_track(face: dict) -> FaceTrack:
    return FaceTrack(
        face_id=str(face.get("face_id")),
        start_ms=int(_float(face.get("start_time")) or 0),
        end_ms=int(_float(face.get("end_time")) or 0),
        image_url=face.get("face_image") or None,
    )


def _float(value: Any) -> float | None:
    """Numbers arrive as numbers or strings ("5", "5.2", "5s")."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(str(value).strip().removesuffix("s"))
    except ValueError:
        return None


def _time(value: Any) -> datetime | None:
    """Unix milliseconds (int or string); small numbers are taken as seconds; ISO text too."""
    number = _float(value)
    if number is None:
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        return None
    seconds = number / 1000 if number > 1e11 else number
    return datetime.fromtimestamp(seconds, UTC)
