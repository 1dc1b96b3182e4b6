"""The contract's endpoints: each takes the parsed request and returns the answer's `data`.

A function raises `ApiError` for every refusal; the server turns it into the right body shape
for the flavour (official envelope, or the proxy's) and HTTP status.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from projects.engines import limits, rules
from projects.engines.base import TaskKind
from projects.engines.simulator import payloads, validation, work
from projects.engines.simulator.config import SimulatorConfig
from projects.engines.simulator.errors import ApiError
from projects.engines.simulator.faults import FaultPlan
from projects.engines.simulator.speech import SpeechRunner
from projects.engines.simulator.state import Session, SimClock, SimTask, Store, TtsTask
from projects.engines.simulator.worker import TaskRunner

IDENTIFY_UNITS = "0.5"  # what an identification costs: some copies of the reference bill it


@dataclass
class Request:
    body: bytes
    query: dict[str, str] = field(default_factory=dict)
    task_id: str = ""

    def json(self) -> dict:
        try:
            parsed = json.loads(self.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ApiError(1200, f"The request body is not valid JSON ({error}).") from error
        return validation.require_object(parsed)


@dataclass(frozen=True)
class RawAnswer:
    """An answer sent as is, outside the official envelope (the proxy's flat endpoint)."""

    status: int
    body: dict


class Simulator:
    """Everything one simulator instance remembers and runs."""

    def __init__(self, config: SimulatorConfig, files_dir: Path, public_url: str) -> None:
        self.config = config
        self.clock = SimClock()
        self.store = Store(self.clock, config.concurrency)
        self.faults = FaultPlan(config.faults)
        self.files_dir = files_dir
        self.stopping = threading.Event()
        self.runner = TaskRunner(
            store=self.store,
            faults=self.faults,
            files_dir=files_dir,
            public_url=public_url,
            task_seconds=config.task_seconds,
            prerendered_result=config.prerendered_result,
        )
        self.speech = SpeechRunner(self.store, files_dir, self.runner.file_url)

    def new_workdir(self) -> Path:
        workdir = self.files_dir / "inputs" / uuid.uuid4().hex
        workdir.mkdir(parents=True)
        return workdir

    # --- identify-face ----------------------------------------------------------------------

    def identify_face(self, request: Request) -> dict:
        body = request.json()
        path, facts, parent = validation.video_source(
            body, self.store, self.new_workdir(), limits.ADVANCED_VIDEO
        )
        tracks = work.identify(path)
        session_id = self.store.new_id()
        face_data = [self._face_entry(session_id, track) for track in tracks]
        self.store.add_session(
            Session(
                session_id=session_id,
                video_path=path,
                video_ms=facts.duration_ms,
                created_s=self.clock.now_s(),
                faces={str(track.track_id): track for track in tracks},
                face_data=face_data,
                parent_video=parent,
            )
        )
        return {
            "session_id": session_id,
            "face_data": face_data,
            "final_unit_deduction": IDENTIFY_UNITS,
        }

    def _face_entry(self, session_id: str, track) -> dict:
        image = self.files_dir / f"face-{session_id}-{track.track_id}.jpg"
        image.write_bytes(track.thumbnail_jpeg)
        return {
            "face_id": str(track.track_id),
            "face_image": self.runner.file_url(image),
            "start_time": int(track.start_ms),
            "end_time": int(track.end_ms),
        }

    # --- creates ------------------------------------------------------------------------------

    def create_advanced(self, request: Request) -> dict:
        body = request.json()
        self._refuse_used_external_id(body)
        job, session, common = validation.advanced_job(body, self.store, self.new_workdir())
        task = self._new_task(TaskKind.ADVANCED, common, job, session.parent_video, job.watermark)
        return payloads.created_data(self._launch(task))

    def create_basic(self, request: Request) -> dict:
        body = request.json()
        fields = validation.require_object(body.get("input"), "input")
        self._refuse_used_external_id(body)
        common = validation.common_fields(body)
        job, parent = validation.basic_job(fields, self.store, self.new_workdir())
        task = self._new_task(TaskKind.BASIC, common, job, parent, watermark=False)
        return payloads.created_data(self._launch(task))

    def create_proxy_flat(self, request: Request) -> RawAnswer:
        """`POST /kling/lip-sync`: blocks until done unless `async` or `callback_url` is given."""
        body = request.json()
        self._refuse_used_external_id(body)
        common = validation.common_fields(body)
        job, parent = validation.basic_job(
            body, self.store, self.new_workdir(), default_audio_type="url"
        )
        task = self._new_task(TaskKind.BASIC, common, job, parent, watermark=False)
        task.proxy_flat = True
        self._launch(task)
        if body.get("async") is True or common.callback_url:
            return RawAnswer(200, payloads.proxy_object(task))
        task.done.wait(self.config.blocking_timeout_s)
        status = 200 if task.status == "succeed" else 500
        return RawAnswer(status, payloads.proxy_object(task))

    def _refuse_used_external_id(self, body: dict) -> None:
        """A cheap refusal before any download; `Store.claim_task` checks again atomically."""
        external = body.get("external_task_id")
        if isinstance(external, str) and external:
            self.store.refuse_used_external_id(external)

    def _new_task(self, kind, common, job, parent_video: dict, watermark: bool) -> SimTask:
        now_ms = self.clock.now_ms()
        return SimTask(
            task_id=self.store.new_id(),
            kind=kind,
            external_task_id=common.external_task_id,
            callback_url=common.callback_url,
            job=job,
            parent_video=parent_video,
            created_ms=now_ms,
            updated_ms=now_ms,
            watermark=watermark,
        )

    def _launch(self, task: SimTask) -> SimTask:
        self.store.claim_task(task)
        task.fail_with_policy = self.faults.take("policy-fail")
        self.runner.start(task)
        return task

    # --- text to speech ---------------------------------------------------------------------

    def create_tts(self, request: Request) -> dict:
        body = request.json()
        common = validation.common_fields(body)
        speech = validation.speech_request(body)
        now_ms = self.clock.now_ms()
        task = TtsTask(
            task_id=self.store.new_id(),
            external_task_id=common.external_task_id,
            created_ms=now_ms,
            updated_ms=now_ms,
        )
        self.store.add_tts_task(task)
        self.speech.start(task, speech)
        return payloads.tts_data(task)

    def get_tts(self, request: Request) -> dict:
        return payloads.tts_data(self.store.tts_task(request.task_id))

    def list_tts(self, request: Request) -> list[dict]:
        page_num = _query_int(request.query, "pageNum", 1)
        page_size = _query_int(request.query, "pageSize", 30)
        violations = rules.check_page(page_num, page_size)
        if violations:
            raise ApiError.from_violations(violations)
        return [payloads.tts_data(task) for task in self.store.tts_page(page_num, page_size)]

    # --- queries ------------------------------------------------------------------------------

    def get_task(self, request: Request, kind: TaskKind) -> dict:
        return payloads.task_data(self.store.task(request.task_id, kind))

    def list_tasks(self, request: Request, kind: TaskKind) -> list[dict]:
        page_num = _query_int(request.query, "pageNum", 1)
        page_size = _query_int(request.query, "pageSize", 30)
        violations = rules.check_page(page_num, page_size)
        if violations:
            raise ApiError.from_violations(violations)
        return [payloads.task_data(task) for task in self.store.page(kind, page_num, page_size)]

    # --- administration (tests and demos) -------------------------------------------------

    def admin(self, method: str, action: str, request: Request) -> object:
        body = request.json() if request.body else {}
        if (method, action) == ("GET", "stats"):
            return self.store.stats()
        if action == "faults":
            return self._admin_faults(method, body)
        if (method, action) == ("POST", "reset"):
            self.store.reset()
            self.faults.replace(None)
            return {"reset": True}
        if (method, action) == ("POST", "clock"):
            self.clock.offset_s = float(body.get("offset_s", 0))
            return {"offset_s": self.clock.offset_s}
        if (method, action) == ("POST", "config"):
            return self._admin_config(body)
        if method == "POST" and action.startswith("sessions/") and action.endswith("/age"):
            self.store.age_session(action.split("/")[1], float(body.get("seconds", 0)))
            return {"aged": True}
        if method == "POST" and action.startswith("audios/") and action.endswith("/age"):
            self.store.age_audio(action.split("/")[1], float(body.get("seconds", 0)))
            return {"aged": True}
        raise ApiError(1203, f"No admin action {method} {action!r}.")

    def _admin_faults(self, method: str, body: dict) -> list[dict]:
        try:
            if method == "POST":
                self.faults.replace(body.get("faults"))
            elif method == "PUT":
                self.faults.add(body.get("faults") or [])
            elif method == "DELETE":
                self.faults.replace(None)
        except ValueError as error:
            raise ApiError(1201, str(error)) from error
        return self.faults.describe()

    def _admin_config(self, body: dict) -> dict:
        if "concurrency" in body:
            self.store.concurrency = int(body["concurrency"])
        if "task_seconds" in body:
            self.runner.task_seconds = float(body["task_seconds"])
        return {"concurrency": self.store.concurrency, "task_seconds": self.runner.task_seconds}


def _query_int(query: dict[str, str], name: str, default: int) -> int | str:
    """An integer query parameter; a non-number is returned as is for the rules to refuse."""
    raw = query.get(name)
    if raw is None:
        return default
    return int(raw) if raw.lstrip("-").isdigit() else raw
