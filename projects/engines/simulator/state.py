"""The simulator's memory: face sessions, tasks, result files and call statistics.

One lock guards it all: requests arrive on many threads, and the duplicate-id and concurrency
checks must see and claim in one step, as a real service's database would.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from projects.engines import limits
from projects.engines.base import TaskKind
from projects.engines.simulator.errors import ApiError

ACTIVE_STATUSES = ("submitted", "processing")


class SimClock:
    """Wall time plus an offset that tests move (skewing JWT checks, ageing everything)."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now_s(self) -> float:
        return time.time() + self.offset_s

    def now_ms(self) -> int:
        return int(self.now_s() * 1000)


@dataclass
class Session:
    session_id: str
    video_path: Path
    video_ms: int
    created_s: float
    faces: dict[str, Any]  # face_id -> the local engine's FaceTrackResult
    face_data: list[dict]  # as answered by identify-face
    parent_video: dict

    def face_data_by_id(self, face_id: str) -> dict:
        return next(face for face in self.face_data if face["face_id"] == face_id)


@dataclass
class SimTask:
    task_id: str
    kind: TaskKind
    external_task_id: str
    callback_url: str
    job: Any  # what the worker needs: see work.py
    parent_video: dict
    created_ms: int
    updated_ms: int
    status: str = "submitted"
    status_msg: str = ""
    watermark: bool = False
    fail_with_policy: bool = False
    proxy_flat: bool = False  # created through /kling/lip-sync: proxy-shaped callbacks
    videos: list[dict] = field(default_factory=list)
    units: str = "0"
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass
class TtsTask:
    """A text-to-speech task: submitted -> succeed | failed, with the audio it made."""

    task_id: str
    external_task_id: str
    created_ms: int
    updated_ms: int
    status: str = "submitted"
    status_msg: str = ""
    audios: list[dict] = field(default_factory=list)
    units: str = "0"
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class TtsAudio:
    """Speech this simulator made: its audio_id is accepted by face_choose for 30 days."""

    audio_id: str
    path: Path
    duration_ms: int
    created_s: float


@dataclass
class ResultFile:
    video_id: str
    path: Path
    created_s: float


class Store:
    def __init__(self, clock: SimClock, concurrency: int) -> None:
        self.clock = clock
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._ids = itertools.count(int(time.time() * 1000) * 1000)
        self.sessions: dict[str, Session] = {}
        self.tasks: dict[str, SimTask] = {}
        self.files: dict[str, ResultFile] = {}  # video_id -> result file
        self.tts_tasks: dict[str, TtsTask] = {}
        self.audios: dict[str, TtsAudio] = {}  # audio_id -> speech made by TTS
        self.fetches: Counter[str] = Counter()  # field -> media downloaded from a caller's URL
        self.audio_uses: Counter[str] = Counter()  # audio_id -> creates that used it
        self.calls: Counter[str] = Counter()
        self.create_requests: Counter[str] = Counter()
        self.tasks_created: Counter[str] = Counter()
        self.callbacks_sent: Counter[str] = Counter()

    def new_id(self) -> str:
        """Numeric string ids, like Kling's."""
        with self._lock:
            return str(next(self._ids))

    # --- sessions ---------------------------------------------------------------------------

    def add_session(self, session: Session) -> None:
        with self._lock:
            self.sessions[session.session_id] = session

    def session(self, session_id: str) -> Session:
        with self._lock:
            found = self.sessions.get(session_id)
        if found is None:
            raise ApiError(1201, f"session_id {session_id!r} is unknown. Identify faces first.")
        age_s = self.clock.now_s() - found.created_s
        if age_s > limits.SESSION_TTL_S:
            raise ApiError(
                1201,
                f"session_id {session_id!r} has expired (sessions last 24 h). "
                "Identify the faces again.",
            )
        return found

    def age_session(self, session_id: str, seconds: float) -> None:
        with self._lock:
            if session_id not in self.sessions:
                raise ApiError(1203, f"No session {session_id!r}.")
            self.sessions[session_id].created_s -= seconds

    # --- tasks ------------------------------------------------------------------------------

    def claim_task(self, task: SimTask) -> None:
        """Register a new task, enforcing unique external ids and the concurrency limit."""
        with self._lock:
            self._refuse_used_external_id(task.external_task_id)
            active = sum(1 for t in self.tasks.values() if t.active)
            if active >= self.concurrency:
                raise ApiError(
                    1303,
                    f"{active} tasks are running, the resource pack allows {self.concurrency}. "
                    "Try again when one has finished.",
                    retry_after_s=1,
                )
            self.tasks[task.task_id] = task
            self.tasks_created[task.external_task_id or task.task_id] += 1

    def refuse_used_external_id(self, external_task_id: str) -> None:
        """Count a create request for this id; 1201 if a task already carries it."""
        with self._lock:
            if external_task_id:
                self.create_requests[external_task_id] += 1
            self._refuse_used_external_id(external_task_id)

    def _refuse_used_external_id(self, external_task_id: str) -> None:
        if external_task_id and any(
            task.external_task_id == external_task_id for task in self.tasks.values()
        ):
            raise ApiError(1201, f"external_task_id {external_task_id!r} is already used.")

    def task(self, task_id: str, kind: TaskKind) -> SimTask:
        with self._lock:
            found = self.tasks.get(task_id)
        if found is None or found.kind != kind:
            raise ApiError(1203, f"No {kind} lip-sync task {task_id!r}.")
        return found

    def page(self, kind: TaskKind, page_num: int, page_size: int) -> list[SimTask]:
        with self._lock:
            mine = [task for task in self.tasks.values() if task.kind == kind]
        mine.sort(key=lambda task: (task.created_ms, task.task_id), reverse=True)
        start = (page_num - 1) * page_size
        return mine[start : start + page_size]

    def move(self, task: SimTask, status: str, message: str = "") -> None:
        with self._lock:
            task.status = status
            task.status_msg = message
            task.updated_ms = max(self.clock.now_ms(), task.updated_ms)
        if status in ("succeed", "failed"):
            task.done.set()

    # --- text to speech ---------------------------------------------------------------------

    def add_tts_task(self, task: TtsTask) -> None:
        with self._lock:
            self._refuse_used_external_id(task.external_task_id)
            if task.external_task_id and any(
                other.external_task_id == task.external_task_id for other in self.tts_tasks.values()
            ):
                raise ApiError(1201, f"external_task_id {task.external_task_id!r} is already used.")
            self.tts_tasks[task.task_id] = task

    def tts_task(self, task_id: str) -> TtsTask:
        with self._lock:
            found = self.tts_tasks.get(task_id)
        if found is None:
            raise ApiError(1203, f"No text-to-speech task {task_id!r}.")
        return found

    def tts_page(self, page_num: int, page_size: int) -> list[TtsTask]:
        with self._lock:
            tasks = sorted(
                self.tts_tasks.values(), key=lambda t: (t.created_ms, t.task_id), reverse=True
            )
        start = (page_num - 1) * page_size
        return tasks[start : start + page_size]

    def add_audio(self, audio: TtsAudio) -> None:
        with self._lock:
            self.audios[audio.audio_id] = audio

    def audio(self, audio_id: str) -> TtsAudio:
        """A TTS audio of this account, while it is accepted (30 days); else 1201."""
        with self._lock:
            found = self.audios.get(audio_id)
        if found is None:
            raise ApiError(1201, f"audio_id {audio_id!r} is not a TTS audio of this account.")
        if self.clock.now_s() - found.created_s > limits.AUDIO_ID_TTL_S:
            raise ApiError(1201, f"audio_id {audio_id!r} has expired (TTS audio lasts 30 days).")
        with self._lock:
            self.audio_uses[audio_id] += 1
        return found

    def age_audio(self, audio_id: str, seconds: float) -> None:
        with self._lock:
            if audio_id not in self.audios:
                raise ApiError(1203, f"No audio {audio_id!r}.")
            self.audios[audio_id].created_s -= seconds

    def count_fetch(self, field: str) -> None:
        with self._lock:
            self.fetches[field] += 1

    # --- files and statistics ---------------------------------------------------------------

    def add_file(self, result: ResultFile) -> None:
        with self._lock:
            self.files[result.video_id] = result

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1

    def count_callback(self, task_id: str) -> None:
        with self._lock:
            self.callbacks_sent[task_id] += 1

    def stats(self) -> dict:
        with self._lock:
            return {
                "calls": dict(self.calls),
                "create_requests": dict(self.create_requests),
                "creates": dict(self.tasks_created),
                "callbacks_sent": dict(self.callbacks_sent),
                "fetches": dict(self.fetches),
                "audio_uses": dict(self.audio_uses),
                "tts_tasks": len(self.tts_tasks),
                "active_tasks": sum(1 for task in self.tasks.values() if task.active),
                "tasks": len(self.tasks),
            }

    def reset(self) -> None:
        with self._lock:
            self.sessions.clear()
            self.tasks.clear()
            self.files.clear()
            self.tts_tasks.clear()
            self.audios.clear()
            for counter in (
                self.fetches,
                self.audio_uses,
                self.calls,
                self.create_requests,
                self.tasks_created,
                self.callbacks_sent,
            ):
                counter.clear()
