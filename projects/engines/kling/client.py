"""The Kling lip-sync engine over HTTP: Kling's official API, or the Ace Data Cloud proxy.

`KlingClient` is the one object that talks to Kling (docs/kling.md describes the contract).
Transient failures are retried with backoff; a create is never repeated blindly: it carries
our `external_task_id`, and after an ambiguous failure (sent, but no clear answer) the task
list is searched for it before anything is sent again.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx

from projects.engines import limits
from projects.engines.base import (
    AdvancedRequest,
    BasicRequest,
    EngineError,
    EngineName,
    EngineTask,
    FaceSession,
    MediaRef,
    SpeechRequest,
    SpeechTask,
    TaskKind,
)
from projects.engines.kling.auth import JwtTokens, StaticToken
from projects.engines.kling.errors import (
    RENEW_TOKEN_CODES,
    is_duplicate,
    speech_error,
    transport_error,
)
from projects.engines.kling.parsing import (
    Answer,
    body_code,
    charged_units,
    face_track,
    interpret,
    json_or_none,
    parse_speech,
    parse_task,
    redacted_body,
    request_id,
    require_object,
)
from projects.engines.kling.payloads import (
    advanced_body,
    basic_input,
    speech_body,
    video_fields,
)

Flavour = Literal["official", "proxy"]
OFFICIAL_BASE_URL = "https://api-singapore.klingai.com"
PROXY_BASE_URL = "https://api.acedata.cloud"
PROXY_PREFIX = "/kling"
LIST_PAGE_SIZE = 100
LIST_MAX_PAGES = 50

PATHS: dict[TaskKind, str] = {
    TaskKind.ADVANCED: "/v1/videos/advanced-lip-sync",
    TaskKind.BASIC: "/v1/videos/lip-sync",
}
IDENTIFY_PATH = "/v1/videos/identify-face"
TTS_PATH = "/v1/audio/tts"
SPEECH_POLL_S = (0.5, 1.0, 2.0, 3.0)  # the last repeats: speech takes seconds, not minutes
SPEECH_WAIT_S = 180
PROXY_FLAT_PATH = "/lip-sync"


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
    units: str | None = None  # what this call itself was charged (identify-face, speech)


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


class _DeadlineExceeded(Exception):
    """The request's total time ran out while the answer was arriving."""


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
        self.name = EngineName.KLING if flavour == "official" else EngineName.PROXY
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

    def close(self) -> None:
        self._http.close()

    # --- the Engine protocol -------------------------------------------------------------

    def identify_faces(self, video: MediaRef) -> FaceSession:
        data = self._call("POST", IDENTIFY_PATH, body=video_fields(video))
        if not isinstance(data, dict) or not data.get("session_id"):
            raise EngineError("Kling answered the face search without a session; try again.")
        expires_at = datetime.fromtimestamp(self._clock(), UTC) + timedelta(
            seconds=limits.SESSION_TTL_S
        )
        faces = [face_track(face) for face in data.get("face_data") or []]
        units = data.get("final_unit_deduction")
        return FaceSession(
            session_id=str(data["session_id"]),
            expires_at=expires_at,
            faces=faces,
            credits=str(units) if units not in (None, "") else None,
        )

    # --- text to speech ------------------------------------------------------------------

    def speak(self, request: SpeechRequest, *, wait_s: float = SPEECH_WAIT_S) -> SpeechTask:
        """Kling's text to speech, waited for: the finished task with its audio.

        Raises EngineError when Kling refuses (in plain words), fails the task, or has not
        finished within `wait_s`.
        """
        task = self.create_speech(request)
        deadline = self._clock() + wait_s
        polls = 0
        while not task.is_terminal:
            if self._clock() > deadline:
                raise EngineError(
                    "Kling's voice took too long to speak this text; try again.", permanent=False
                )
            self._sleep(SPEECH_POLL_S[min(polls, len(SPEECH_POLL_S) - 1)])
            polls += 1
            task = self.get_speech(task.task_id)
        if task.status == "failed" or not task.audios:
            raise EngineError(
                f"Kling could not speak this text: {task.message or 'no audio came back'}."
            )
        return task

    def create_speech(self, request: SpeechRequest) -> SpeechTask:
        """One create: a transient failure before it was sent is retried, never one after."""
        renewed, attempt = False, 1
        while True:
            try:
                data = self._send("POST", TTS_PATH, body=speech_body(request), create=True)
                return parse_speech(require_object(data))
            except EngineError as error:
                if error.code in RENEW_TOKEN_CODES and not renewed:
                    renewed = True
                    self._tokens.renew()
                    continue
                if error.permanent or error.ambiguous or attempt >= self._retry.max_attempts:
                    raise speech_error(error, request) from error
                self._back_off(attempt, error)
                attempt += 1

    def get_speech(self, task_id: str) -> SpeechTask:
        return parse_speech(require_object(self._call("GET", f"{TTS_PATH}/{task_id}")))

    def list_speech(self, page: int = 1, size: int = 30) -> list[SpeechTask]:
        data = self._call("GET", TTS_PATH, params={"pageNum": page, "pageSize": size})
        items = data if isinstance(data, list) else (data or {}).get("list") or []
        return [parse_speech(item) for item in items if isinstance(item, dict)]

    def create_advanced(self, request: AdvancedRequest) -> EngineTask:
        external_task_id = request.external_task_id or uuid.uuid4().hex
        body = advanced_body(request, external_task_id)
        return self._create(TaskKind.ADVANCED, PATHS[TaskKind.ADVANCED], body, external_task_id)

    def create_basic(self, request: BasicRequest) -> EngineTask:
        external_task_id = request.external_task_id or uuid.uuid4().hex
        if self.flavour == "proxy":
            # The flat call blocks until done unless asked not to: `async` keeps it short.
            body = {**basic_input(request), "async": True, "external_task_id": external_task_id}
            if request.callback_url:
                body["callback_url"] = request.callback_url
            return self._create(TaskKind.BASIC, PROXY_FLAT_PATH, body, external_task_id)
        body = {"input": basic_input(request), "external_task_id": external_task_id}
        if request.callback_url:
            body["callback_url"] = request.callback_url
        return self._create(TaskKind.BASIC, PATHS[TaskKind.BASIC], body, external_task_id)

    def get_task(self, task_id: str, kind: TaskKind = TaskKind.ADVANCED) -> EngineTask:
        data = self._call("GET", f"{PATHS[kind]}/{task_id}")
        return parse_task(require_object(data), kind)

    def list_tasks(
        self, kind: TaskKind = TaskKind.ADVANCED, page: int = 1, size: int = 30
    ) -> list[EngineTask]:
        data = self._call("GET", PATHS[kind], params={"pageNum": page, "pageSize": size})
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
                return parse_task(require_object(data), kind, external_task_id)
            except EngineError as error:
                if error.code in RENEW_TOKEN_CODES and not renewed:
                    renewed = True
                    self._tokens.renew()
                    continue
                if error.ambiguous or is_duplicate(error):
                    found = self._look_up_after(error, external_task_id, kind)
                    if found is not None:
                        return found
                # An engine that cannot be reached is not tried again at once: the caller
                # backs off (seconds to minutes) instead of hammering a server that is down.
                last_try = attempt == self._retry.max_attempts or error.unreachable
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
                if error.permanent or error.unreachable or attempt >= self._retry.max_attempts:
                    raise  # unreachable: the caller backs off (see _create)
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
            error = transport_error(failure, create)
            self._record(method, endpoint, None, started, error=error)
            raise error from failure
        try:
            data = interpret(answer, create)
        except EngineError as error:
            self._record(method, endpoint, answer, started, error=error)
            raise
        self._record(method, endpoint, answer, started)
        return data

    def _exchange(
        self, method: str, url: str, body: dict | None, params: dict | None, started: float
    ) -> Answer:
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
        return Answer(response.status_code, response.headers, json_or_none(raw))

    def _record(
        self,
        method: str,
        endpoint: str,
        answer: Answer | None,
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
                code=body_code(body),
                request_id=request_id(body, answer.headers if answer else None),
                duration_ms=round((time.monotonic() - started) * 1000),
                response_body=redacted_body(body),
                error=error.message if error is not None else "",
                units=charged_units(endpoint, body) if error is None else None,
            )
        )
