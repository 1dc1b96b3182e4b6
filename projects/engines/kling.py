"""The Kling lip-sync engine over HTTP: Kling's official API, or the Ace Data Cloud proxy.

This is the one module that talks to Kling. Every failure leaves it as an `EngineError` whose
message a person can act on. Transient failures are retried with backoff; a create is never
repeated blindly: it carries our `external_task_id`, and after an ambiguous failure (sent,
but no clear answer) the task list is searched for it before anything is sent again.
Responses are read generously (times as ints or strings, `succeed`, flat or enveloped bodies,
the proxy's two error shapes), as the sources disagree (KLING_CONTRACT.md).
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Literal

import httpx
import jwt

from projects.engines import limits
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    EngineTask,
    FaceSession,
    FaceTrack,
    MediaRef,
    ResultVideo,
    TaskKind,
)

Flavour = Literal["official", "proxy"]
OFFICIAL_BASE_URL = "https://api-singapore.klingai.com"
PROXY_BASE_URL = "https://api.acedata.cloud"
PROXY_PREFIX = "/kling"
TOKEN_LIFETIME_S = 1800
TOKEN_NOT_BEFORE_S = 5
TOKEN_RENEW_MARGIN_S = 300
RECORD_BODY_CHARS = 4096
LONG_STRING_CHARS = 256  # longer strings in a recorded body are Base64 blobs: elided
SECRET_KEYS = frozenset({"authorization", "token", "access_key", "secret_key", "api_key"})
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 50

_PATHS: dict[TaskKind, str] = {
    "advanced": "/v1/videos/advanced-lip-sync",
    "basic": "/v1/videos/lip-sync",
}
IDENTIFY_PATH = "/v1/videos/identify-face"
PROXY_FLAT_PATH = "/lip-sync"

# --- what each error means to the person using the app -------------------------------------

RENEW_TOKEN_CODES = frozenset({1003, 1004})
TRANSIENT_CODES = frozenset({1302, 1303, 5000, 5001, 5002})
AMBIGUOUS_CODES = frozenset({5000, 5001, 5002})  # the server may have done the work
SHOW_SERVER_MESSAGE = frozenset({1200, 1201, 1300, 1301})
DUPLICATE_EXTERNAL_ID = "external_task_id"  # words of Kling's 1201 for a reused id

CODE_ADVICE: dict[int, str] = {
    1000: "Kling rejected our credentials. Check KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1001: "No Kling credentials were sent. Set KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1002: "Kling could not read our credentials. Check KLING_ACCESS_KEY and KLING_SECRET_KEY.",
    1003: "Kling says our token is not valid yet: this server's clock is probably ahead. "
    "Synchronise the clock (NTP), then try again.",
    1004: "Kling says our token has expired: this server's clock is probably behind. "
    "Synchronise the clock (NTP), then try again.",
    1100: "Kling reports a problem with the account. Check it in the Kling console.",
    1101: "The Kling account is in arrears. Recharge it, then try again.",
    1102: "Your Kling resource pack is used up or expired. Buy more credits, then try again.",
    1103: "This Kling account may not use the lip-sync API. Ask Kling to enable it.",
    1200: "Kling refused the request's parameters",
    1201: "Kling refused a value in the request",
    1202: "Kling does not accept this request method; the app needs fixing (report it).",
    1203: "Kling does not know this task or resource; it may have been deleted.",
    1300: "Kling's platform policy refused this request",
    1301: "Kling's content-safety check refused the input. Change the video, audio or text",
    1302: "Kling is receiving too many requests from us. The task will be retried shortly.",
    1303: "All of the Kling account's task slots are busy. The task will wait for a free one.",
    1304: "Kling refused this server's IP address. Add it to the allow-list in the Kling console.",
    5000: "Kling had an internal error. The task will be retried shortly.",
    5001: "Kling is temporarily unavailable. The task will be retried shortly.",
    5002: "Kling timed out internally. The task will be retried shortly.",
}

# The proxy's string codes: (advice, transient).
PROXY_CODE_ADVICE: dict[str, tuple[str, bool]] = {
    "bad_request": ("The lip-sync proxy refused the request", False),
    "authorization_missing": ("No proxy token was sent. Set LIPSYNC_PROXY_TOKEN.", False),
    "invalid_token": ("The proxy rejected our token. Check LIPSYNC_PROXY_TOKEN.", False),
    "token_expired": ("The proxy token has expired. Create a new one and set it.", False),
    "used_up": ("The proxy account's credits are used up. Buy more, then try again.", False),
    "forbidden": (
        "The proxy's moderation refused the input. Change the video, audio or text",
        False,
    ),
    "too_many_requests": ("The proxy is receiving too many requests. Retrying shortly.", True),
    "api_error": ("The proxy had an internal error. Retrying shortly.", True),
}


@dataclass(frozen=True)
class ApiCallRecord:
    """One HTTP exchange with the engine, for the `ApiCall` rows the admin shows under a task."""

    method: str
    endpoint: str
    http_status: int | None
    code: int | str | None
    request_id: str
    duration_ms: int
    response_body: str
    error: str = ""


Recorder = Callable[[ApiCallRecord], None]


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 5.0
    read_s: float = 30.0
    total_s: float = 60.0  # one request, connect to last byte: httpx has no such limit itself


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0  # a longer Retry-After is handed to the caller to schedule


# --- tokens ----------------------------------------------------------------------------------


class JwtTokens:
    """Kling's HS256 JWT from an access key and secret key, renewed before it expires."""

    def __init__(
        self,
        access_key: str,
        secret_key: str,
        *,
        clock: Callable[[], float] = time.time,
        renew_margin_s: float = TOKEN_RENEW_MARGIN_S,
    ) -> None:
        if not access_key or not secret_key:
            raise ValueError("Kling needs KLING_ACCESS_KEY and KLING_SECRET_KEY.")
        self._access_key, self._secret_key = access_key, secret_key
        self._clock, self._margin = clock, renew_margin_s
        self._token, self._expires_at = "", 0.0

    def token(self) -> str:
        if not self._token or self._clock() >= self._expires_at - self._margin:
            self.renew()
        return self._token

    def renew(self) -> None:
        now = int(self._clock())
        self._expires_at = now + TOKEN_LIFETIME_S
        claims = {"iss": self._access_key, "exp": self._expires_at, "nbf": now - TOKEN_NOT_BEFORE_S}
        self._token = jwt.encode(claims, self._secret_key, algorithm="HS256")


class StaticToken:
    """The proxy's bearer token: nothing to renew."""

    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("The lip-sync proxy needs LIPSYNC_PROXY_TOKEN.")
        self._token = token

    def token(self) -> str:
        return self._token

    def renew(self) -> None:
        """A static token cannot be renewed; a retry sends the same one."""


# --- the client --------------------------------------------------------------------------


class _DeadlineExceeded(Exception):
    """The request's total time ran out while the answer was arriving."""


@dataclass(frozen=True)
class _Answer:
    http_status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, or None


class KlingClient:
    """`Engine` over Kling's HTTP API. All calls block: run them in Celery workers."""

    def __init__(
        self,
        base_url: str = OFFICIAL_BASE_URL,
        *,
        flavour: Flavour = "official",
        access_key: str = "",
        secret_key: str = "",
        proxy_token: str = "",
        timeouts: Timeouts = Timeouts(),
        retry: RetryPolicy = RetryPolicy(),
        recorder: Recorder | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if flavour not in ("official", "proxy"):
            raise ValueError(f"Unknown Kling flavour {flavour!r}: use 'official' or 'proxy'.")
        self.flavour: Flavour = flavour
        self.name = "kling" if flavour == "official" else "kling-proxy"
        self._base_url = base_url.rstrip("/")
        self._prefix = PROXY_PREFIX if flavour == "proxy" else ""
        self._tokens: JwtTokens | StaticToken = (
            JwtTokens(access_key, secret_key, clock=clock)
            if flavour == "official"
            else StaticToken(proxy_token)
        )
        self._timeouts, self._retry = timeouts, retry
        self._recorder = recorder
        self._sleep, self._clock, self._jitter = sleep, clock, jitter
        self._http = httpx.Client(transport=transport, follow_redirects=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **options: Any) -> KlingClient:
        """Built from KLING_BASE_URL, KLING_ACCESS_KEY, KLING_SECRET_KEY, LIPSYNC_PROXY_TOKEN.

        KLING_FLAVOUR picks `official` or `proxy`; unset, a proxy token without an access key
        means the proxy.
        """
        env = os.environ if env is None else env
        has_proxy_only = env.get("LIPSYNC_PROXY_TOKEN") and not env.get("KLING_ACCESS_KEY")
        flavour = env.get("KLING_FLAVOUR") or ("proxy" if has_proxy_only else "official")
        default_url = PROXY_BASE_URL if flavour == "proxy" else OFFICIAL_BASE_URL
        return cls(
            env.get("KLING_BASE_URL") or default_url,
            flavour=flavour,  # type: ignore[arg-type]
            access_key=env.get("KLING_ACCESS_KEY", ""),
            secret_key=env.get("KLING_SECRET_KEY", ""),
            proxy_token=env.get("LIPSYNC_PROXY_TOKEN", ""),
            **options,
        )

    def close(self) -> None:
        self._http.close()

    # --- the Engine protocol -------------------------------------------------------------

    def identify_faces(self, video: MediaRef) -> FaceSession:
        data = self._call("POST", IDENTIFY_PATH, body={"video_url": _video_url(video)})
        if not isinstance(data, dict) or not data.get("session_id"):
            raise EngineError("Kling answered the face search without a session; try again.")
        expires_at = datetime.fromtimestamp(self._clock(), UTC) + timedelta(
            seconds=limits.SESSION_TTL_S
        )
        faces = [_face_track(face) for face in data.get("face_data") or []]
        return FaceSession(session_id=str(data["session_id"]), expires_at=expires_at, faces=faces)

    def create_advanced(self, request: AdvancedRequest) -> EngineTask:
        external_task_id = request.external_task_id or uuid.uuid4().hex
        body = advanced_body(request, external_task_id)
        return self._create("advanced", _PATHS["advanced"], body, external_task_id)

    def create_basic(self, request: BasicRequest) -> EngineTask:
        external_task_id = request.external_task_id or uuid.uuid4().hex
        if self.flavour == "proxy":
            # The flat call blocks until done unless asked not to: `async` keeps it short.
            body = {**basic_input(request), "async": True, "external_task_id": external_task_id}
            if request.callback_url:
                body["callback_url"] = request.callback_url
            return self._create("basic", PROXY_FLAT_PATH, body, external_task_id)
        body = {"input": basic_input(request), "external_task_id": external_task_id}
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return self._create("basic", _PATHS["basic"], body, external_task_id)

    def get_task(self, task_id: str, kind: TaskKind = "advanced") -> EngineTask:
        data = self._call("GET", f"{_PATHS[kind]}/{task_id}")
        return parse_task(_require_object(data), kind)

    def list_tasks(
        self, kind: TaskKind = "advanced", page: int = 1, size: int = 30
    ) -> list[EngineTask]:
        data = self._call("GET", _PATHS[kind], params={"pageNum": page, "pageSize": size})
        items = data if isinstance(data, list) else (data or {}).get("list") or []
        return [parse_task(item, kind) for item in items if isinstance(item, dict)]

    def find_by_external_id(self, external_task_id: str, kind: TaskKind) -> EngineTask | None:
        """The task we created with this `external_task_id`, paging through the list."""
        for page in range(1, LIST_MAX_PAGES + 1):
            tasks = self.list_tasks(kind, page=page, size=LIST_PAGE_SIZE)
            for task in tasks:
                if task.external_task_id == external_task_id:
                    return task
            if len(tasks) < LIST_PAGE_SIZE:
                return None
        return None

    # --- creates: never blindly twice ----------------------------------------------------

    def _create(self, kind: TaskKind, path: str, body: dict, external_task_id: str) -> EngineTask:
        renewed = False
        for attempt in range(1, self._retry.max_attempts + 1):
            try:
                data = self._send("POST", path, body=body, create=True)
                return parse_task(_require_object(data), kind, external_task_id)
            except EngineError as error:
                if error.code in RENEW_TOKEN_CODES and not renewed:
                    renewed = True
                    self._tokens.renew()
                    continue
                if error.ambiguous or _is_duplicate(error):
                    found = self._look_up_after(error, external_task_id, kind)
                    if found is not None:
                        return found
                last_try = attempt == self._retry.max_attempts
                if (error.permanent and not error.ambiguous) or last_try:
                    raise
                self._back_off(attempt, error)
        raise AssertionError("unreachable: the loop returns or raises")

    def _look_up_after(
        self, error: EngineError, external_task_id: str, kind: TaskKind
    ) -> EngineTask | None:
        """After an unclear create: did Kling make the task? Unknown stays ambiguous."""
        try:
            return self.find_by_external_id(external_task_id, kind)
        except EngineError as lookup_error:
            raise EngineError(
                f"{error.message} Kling may have received the task, and looking it up failed "
                f"too ({lookup_error.message}); it will be looked up again before any resend.",
                code=error.code,
                http_status=error.http_status,
                permanent=False,
                ambiguous=True,
            ) from lookup_error

    # --- one request with retries ---------------------------------------------------------

    def _call(
        self, method: str, path: str, *, body: dict | None = None, params: dict | None = None
    ) -> Any:
        """A request that is safe to repeat: transient failures are retried."""
        renewed = False
        attempt = 1
        while True:
            try:
                return self._send(method, path, body=body, params=params)
            except EngineError as error:
                if error.code in RENEW_TOKEN_CODES and not renewed:
                    renewed = True
                    self._tokens.renew()
                    continue
                if error.permanent or attempt >= self._retry.max_attempts:
                    raise
                self._back_off(attempt, error)
                attempt += 1

    def _back_off(self, attempt: int, error: EngineError) -> None:
        """Exponential backoff with jitter, never shorter than the server's Retry-After."""
        delay = min(self._retry.max_delay_s, self._retry.base_delay_s * 2 ** (attempt - 1))
        delay *= 0.5 + self._jitter() / 2
        if error.retry_after is not None:
            if error.retry_after > self._retry.max_delay_s:
                raise error  # too long to wait in a worker: the caller reschedules
            delay = max(delay, error.retry_after)
        self._sleep(delay)

    def _send(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        params: dict | None = None,
        create: bool = False,
    ) -> Any:
        """One HTTP exchange, recorded; returns the answer's data or raises EngineError."""
        started = time.monotonic()
        endpoint = self._prefix + path
        try:
            answer = self._exchange(method, self._base_url + endpoint, body, params, started)
        except (httpx.TransportError, _DeadlineExceeded) as failure:
            error = _transport_error(failure, create)
            self._record(method, endpoint, None, started, error=error)
            raise error from failure
        try:
            data = _interpret(answer, create)
        except EngineError as error:
            self._record(method, endpoint, answer, started, error=error)
            raise
        self._record(method, endpoint, answer, started)
        return data

    def _exchange(
        self, method: str, url: str, body: dict | None, params: dict | None, started: float
    ) -> _Answer:
        """Send and read the whole answer within the total deadline."""
        deadline = started + self._timeouts.total_s

        def remaining(limit: float) -> float:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _DeadlineExceeded
            return min(limit, left)

        timeout = httpx.Timeout(
            connect=remaining(self._timeouts.connect_s),
            read=remaining(self._timeouts.read_s),
            write=remaining(self._timeouts.read_s),
            pool=remaining(self._timeouts.connect_s),
        )
        headers = {"Authorization": f"Bearer {self._tokens.token()}"}
        with self._http.stream(
            method, url, json=body, params=params, headers=headers, timeout=timeout
        ) as response:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                remaining(self._timeouts.read_s)
            raw = b"".join(chunks)
        return _Answer(response.status_code, response.headers, _json_or_none(raw))

    def _record(
        self,
        method: str,
        endpoint: str,
        answer: _Answer | None,
        started: float,
        *,
        error: EngineError | None = None,
    ) -> None:
        if self._recorder is None:
            return
        body = answer.body if answer is not None else None
        self._recorder(
            ApiCallRecord(
                method=method,
                endpoint=endpoint,
                http_status=answer.http_status if answer is not None else None,
                code=_body_code(body),
                request_id=_request_id(body, answer.headers if answer else None),
                duration_ms=round((time.monotonic() - started) * 1000),
                response_body=redacted_body(body),
                error=error.message if error is not None else "",
            )
        )


# --- request bodies --------------------------------------------------------------------------


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
        choice["sound_file"] = _audio_value(request.audio)[1]
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
    fields: dict[str, Any] = {"video_url": _video_url(request.video), "mode": request.mode}
    if request.mode == "text2video":
        fields.update(
            text=request.text,
            voice_id=request.voice_id,
            voice_language=request.voice_language,
            voice_speed=request.voice_speed,
        )
        return fields
    if request.audio is None:
        raise EngineError("Choose an audio file for an audio-driven lip-sync.")
    audio_type, value = _audio_value(request.audio)
    fields["audio_type"] = audio_type
    fields["audio_file" if audio_type == "file" else "audio_url"] = value
    return fields


def _video_url(video: MediaRef) -> str:
    if not video.url:
        raise EngineError(
            "Kling fetches videos by URL; this video has none. Configure public media storage."
        )
    return video.url


def _audio_value(audio: MediaRef) -> tuple[Literal["file", "url"], str]:
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


# --- reading answers -------------------------------------------------------------------------


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _interpret(answer: _Answer, create: bool) -> Any:
    """The answer's data, or the EngineError it stands for (the body's code decides)."""
    body = answer.body
    retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
    if isinstance(body, dict):
        code = body.get("code")
        if isinstance(code, int) and not isinstance(code, bool):
            if code == 0:
                return body.get("data")
            raise kling_error(code, str(body.get("message") or ""), answer, retry_after, create)
        if isinstance(code, str) and body.get("success") is not True:
            raise proxy_error(code, str(body.get("detail") or ""), answer, retry_after)
        if body.get("success") is False:
            error = body.get("error") or {}
            code = str(error.get("code") or "api_error")
            raise proxy_error(code, str(error.get("message") or ""), answer, retry_after)
        if 200 <= answer.http_status < 300:
            return body  # a flat body: the proxy's object, or data without its envelope
    if 200 <= answer.http_status < 300 and body is not None:
        return body
    raise http_error(answer, retry_after, create)


def kling_error(
    code: int, message: str, answer: _Answer, retry_after: float | None, create: bool
) -> EngineError:
    advice = CODE_ADVICE.get(code, f"Kling answered with error {code}")
    if code in SHOW_SERVER_MESSAGE or code not in CODE_ADVICE:
        advice = f"{advice}: {message}" if message else f"{advice}."
    return EngineError(
        advice,
        code=code,
        http_status=answer.http_status,
        permanent=code not in TRANSIENT_CODES,
        retry_after=retry_after,
        ambiguous=create and code in AMBIGUOUS_CODES,
    )


def proxy_error(code: str, detail: str, answer: _Answer, retry_after: float | None) -> EngineError:
    advice, transient = PROXY_CODE_ADVICE.get(
        code, (f"The proxy answered with error {code}", False)
    )
    if detail and not transient:
        advice = f"{advice.rstrip('.')}: {detail}"
    elif not advice.endswith("."):
        advice += "."
    return EngineError(
        advice,
        code=code,
        http_status=answer.http_status,
        permanent=not transient,
        retry_after=retry_after,
        ambiguous=False,
    )


def http_error(answer: _Answer, retry_after: float | None, create: bool) -> EngineError:
    """An answer without a code we can read: the HTTP status decides."""
    status = answer.http_status
    transient = status == 429 or status >= 500
    if status == 429:
        message = "Kling is receiving too many requests. The task will be retried shortly."
    elif status >= 500:
        message = f"Kling is unavailable (HTTP {status}). The task will be retried shortly."
    else:
        message = f"Kling answered HTTP {status} without an explanation; report this."
    return EngineError(
        message,
        http_status=status,
        permanent=not transient,
        retry_after=retry_after,
        ambiguous=create and status >= 500,
    )


def _transport_error(failure: Exception, create: bool) -> EngineError:
    """A request that got no answer; ambiguous for a create when it may have been received."""
    not_sent = isinstance(failure, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if not_sent:
        message = "Kling cannot be reached (connection failed). The task will be retried."
    else:
        message = "Kling did not answer in time. The task will be checked and retried."
    return EngineError(message, permanent=False, ambiguous=create and not not_sent)


def _is_duplicate(error: EngineError) -> bool:
    return error.code == 1201 and DUPLICATE_EXTERNAL_ID in error.message


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: either a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _require_object(data: Any) -> dict:
    if not isinstance(data, dict):
        raise EngineError("Kling answered with an unexpected body; try again later.")
    return data


def _body_code(body: Any) -> int | str | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("error"), dict):
        return body["error"].get("code")
    return body.get("code")


def _request_id(body: Any, headers: httpx.Headers | None) -> str:
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


def parse_task(data: dict, kind: TaskKind = "advanced", external_task_id: str = "") -> EngineTask:
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


def parse_callback(body: dict, kind: TaskKind = "advanced") -> EngineTask:
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


def _face_track(face: dict) -> FaceTrack:
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
