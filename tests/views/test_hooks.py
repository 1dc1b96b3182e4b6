"""The engine callback is a hint, never the truth: it can only make us ask the engine ourselves.

The engine asked is the Kling simulator (a real HTTP server on loopback speaking the official
API); its task is a basic lip-sync whose result is a pre-made video, held in `processing` long
enough for the test. Callbacks go through the real view with the test client; the Celery task a
hint schedules runs in this process as soon as the request's transaction commits, as a worker
would pick it up. The clock is frozen so that "100 duplicates" means "within the debounce
window" however slow the machine is; moving it past the window shows the debounce is by time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from lipsync_web.celery import app as celery_app
from projects.engines.simulator import RunningSimulator, SimulatorConfig, start
from projects.models import ApiCall, LipSyncTask, SourceVideo, TaskStatus
from projects.services import pipeline
from tests.support.hostile import Canary
from tests.support.mediagen import make_video
from tests.support.oddinput import json_values, number_texts, views_settings
from tests.support.simulator import ACCESS_KEY, SECRET_KEY, official_headers

pytestmark = pytest.mark.django_db

BASIC = "/v1/videos/lip-sync"
# A new task is `submitted` for a quarter of the configured time, then `processing` until the
# time (read again when processing starts) is up: short to start, long once started.
START_SECONDS = 8
HOLD_SECONDS = 600


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        """Silence."""


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Iterator[RunningSimulator]:
    """The simulator, a file server for its input video, and a task it is processing."""
    folder = tmp_path_factory.mktemp("webhook-media")
    make_video(folder / "input.mp4", width=720, height=720, duration_s=3, tone_hz=None)
    files = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    simulator = start(
        SimulatorConfig(
            port=0,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            task_seconds=START_SECONDS,
            concurrency=100,  # tasks held in processing stay active for the whole module
            files_dir=tmp_path_factory.mktemp("webhook-sim"),
            prerendered_result=folder / "input.mp4",
        )
    )
    yield simulator, f"http://127.0.0.1:{files.server_address[1]}/input.mp4"
    simulator.stop()
    files.shutdown()
    files.server_close()


def create_processing_task(simulator: RunningSimulator, video_url: str) -> str:
    """A basic lip-sync at the simulator, waited for until it reports `processing`."""
    config = f"{simulator.url}/__sim__/config"
    httpx.post(config, json={"task_seconds": START_SECONDS})
    body = {
        "input": {
            "video_url": video_url,
            "mode": "text2video",
            "text": "Hello there.",
            "voice_id": "oversea_male1",
            "voice_language": "en",
        },
        "external_task_id": uuid.uuid4().hex,
    }
    created = httpx.post(f"{simulator.url}{BASIC}", json=body, headers=official_headers()).json()
    assert created["code"] == 0, created
    task_id = created["data"]["task_id"]
    httpx.post(config, json={"task_seconds": HOLD_SECONDS})
    deadline = time.monotonic() + START_SECONDS
    while engine_status(simulator, task_id) != "processing":
        assert time.monotonic() < deadline, "the simulator never started processing"
        time.sleep(0.2)
    return task_id


def engine_status(simulator: RunningSimulator, task_id: str) -> str:
    answer = httpx.get(f"{simulator.url}{BASIC}/{task_id}", headers=official_headers()).json()
    return answer["data"]["task_status"]


def engine_queries(simulator: RunningSimulator) -> int:
    """How many task queries the simulator has answered (all GETs of a task)."""
    calls = httpx.get(f"{simulator.url}/__sim__/stats").json()["calls"]
    return sum(count for name, count in calls.items() if "get" in name.lower())


@pytest.fixture
def kling(settings, engine) -> RunningSimulator:
    simulator, _video_url = engine
    settings.KLING_BASE_URL = simulator.url
    settings.KLING_ACCESS_KEY = ACCESS_KEY
    settings.KLING_SECRET_KEY = SECRET_KEY
    return simulator


@pytest.fixture
def task(kling, engine, project, users) -> LipSyncTask:
    """Our row for the simulator's task, as `submit` leaves it: submitted, polls pending."""
    video = SourceVideo.objects.create(
        project=project, original_name="input.mp4", created_by=users["editor"]
    )
    return LipSyncTask.objects.create(
        project=project,
        video=video,
        kind="basic",
        engine="kling",
        external_task_id=uuid.uuid4().hex,
        engine_task_id=create_processing_task(kling, engine[1]),
        status=TaskStatus.SUBMITTED,
        submitted_at=timezone.now(),
        created_by=users["editor"],
    )


@pytest.fixture
def clock(monkeypatch) -> list:
    """A frozen `timezone.now`; append to move it."""
    frozen = [timezone.now()]
    monkeypatch.setattr(timezone, "now", lambda: frozen[-1])
    return frozen


@pytest.fixture
def worker_runs_hints(django_capture_on_commit_callbacks):
    """Celery tasks run in this process when the request's transaction commits."""

    def deliver(client, url, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(url, body, content_type="application/json")

    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield deliver
    celery_app.conf.task_always_eager = eager


def callback_url(task: LipSyncTask, token: str | None = None) -> str:
    return reverse("projects:engine-callback", args=[task.pk, token or task.callback_token])


def says_succeed(task: LipSyncTask, result_url: str) -> dict:
    """What a forged or early callback could claim: done, with a result somewhere."""
    return {
        "task_id": task.engine_task_id,
        "task_status": "succeed",
        "task_result": {"videos": [{"id": "v1", "url": result_url, "duration": "3.0"}]},
        "external_task_id": task.external_task_id,
    }


def test_100_duplicate_callbacks_make_one_query_and_one_change(
    task, kling, client, clock, worker_runs_hints
):
    queries_before = engine_queries(kling)
    body = {"task_id": task.engine_task_id, "task_status": "processing"}
    answers = [worker_runs_hints(client, callback_url(task), body) for _ in range(100)]

    assert all(answer.status_code == 200 for answer in answers)
    assert [answer.json()["scheduled"] for answer in answers] == [True] + [False] * 99
    assert engine_queries(kling) - queries_before == 1
    assert ApiCall.objects.filter(task=task, method="GET").count() == 1
    task.refresh_from_db()
    assert task.status == TaskStatus.PROCESSING
    assert task.status_changed_at == clock[-1]

    # Past the debounce window, a new hint asks again, and the same answer changes nothing.
    clock.append(clock[-1] + timedelta(seconds=pipeline.HINT_DEBOUNCE_S + 1))
    assert worker_runs_hints(client, callback_url(task), body).json()["scheduled"] is True
    assert engine_queries(kling) - queries_before == 2
    task.refresh_from_db()
    assert task.status == TaskStatus.PROCESSING
    assert task.status_changed_at == clock[0], "processing → processing is not a change"


def test_wrong_token_gets_404_and_no_engine_call(task, kling, client, worker_runs_hints):
    queries_before = engine_queries(kling)
    for token in ("wrong", task.callback_token[:-1], task.callback_token + "x", "%00"):
        answer = worker_runs_hints(client, callback_url(task, token), {"task_status": "succeed"})
        assert answer.status_code == 404
    unknown_task = reverse("projects:engine-callback", args=[uuid.uuid4(), task.callback_token])
    assert worker_runs_hints(client, unknown_task, {}).status_code == 404
    assert engine_queries(kling) == queries_before
    assert not ApiCall.objects.filter(task=task).exists()
    task.refresh_from_db()
    assert task.status == TaskStatus.SUBMITTED and task.last_hint_at is None


def test_callback_saying_succeed_changes_nothing_while_the_engine_says_processing(
    task, kling, client, worker_runs_hints, _media_root
):
    canary = Canary().start()
    try:
        body = says_succeed(task, canary.url + "/result.mp4")
        answer = worker_runs_hints(client, callback_url(task), body)
    finally:
        canary.stop()
    assert answer.status_code == 200 and answer.json()["scheduled"] is True
    assert engine_status(kling, task.engine_task_id) == "processing"
    task.refresh_from_db()
    assert task.status == TaskStatus.PROCESSING, "only the engine's own answer moves the task"
    assert not task.result_file and task.finished_at is None
    assert canary.hits == [], "the URL in the callback body is never fetched"
    assert not _media_root.exists() or not any(p.is_file() for p in _media_root.rglob("*"))


def test_callbacks_for_a_finished_task_are_ignored(task, kling, client, worker_runs_hints):
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED)
    answer = worker_runs_hints(client, callback_url(task), says_succeed(task, "http://x/"))
    assert answer.json() == {"ok": True, "scheduled": False}
    # Logged for the review panel, and nothing asked of the engine.
    logged = ApiCall.objects.filter(task=task)
    assert [(row.is_callback, row.endpoint) for row in logged] == [(True, "callback")]
    assert "http://x/" in logged[0].response_body


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_bodies_get_a_plain_400(task, client, body):
    answer = client.post(callback_url(task), body, content_type="application/json")
    assert answer.status_code == 400
    assert "Traceback" not in answer.content.decode(errors="replace")


# --- Odd bodies: refused in words, never a server error -------------------------------------


@pytest.fixture
def finished_task(project, users) -> LipSyncTask:
    """A task no longer at the engine: a well-formed callback is answered without asking it."""
    video = SourceVideo.objects.create(
        project=project, original_name="input.mp4", created_by=users["editor"]
    )
    return LipSyncTask.objects.create(
        project=project,
        video=video,
        kind="basic",
        engine="kling",
        status=TaskStatus.SUCCEED,
        created_by=users["editor"],
    )


@pytest.mark.parametrize("depth", [17, 5_000, 12_000])  # 12,000 "{"a":" fit the size cap
def test_a_body_nested_deeper_than_any_callback_is_refused_before_parsing(
    finished_task, client, depth
):
    for body in (b"[" * depth, b'{"a":' * depth, b"[" * depth + b"]" * depth):
        answer = client.post(callback_url(finished_task), body, content_type="application/json")
        assert answer.status_code == 400
        assert "nested" in answer.json()["error"]


def test_nesting_inside_strings_is_only_text(finished_task, client):
    body = {"task_status_msg": "[" * 5_000 + "{" * 5_000, "task_result": {"videos": [{"id": 1}]}}
    answer = client.post(callback_url(finished_task), body, content_type="application/json")
    assert answer.json() == {"ok": True, "scheduled": False}


def test_the_envelope_kling_may_send_is_not_too_deep(finished_task, client):
    flat = says_succeed(finished_task, "https://cdn.example.com/r.mp4")
    flat["task_info"] = {"parent_video": {"id": "p1"}, "external_task_id": "x"}
    enveloped = {"code": 0, "message": "SUCCEED", "data": flat}
    for body in (flat, enveloped):
        answer = client.post(callback_url(finished_task), body, content_type="application/json")
        assert answer.status_code == 200, answer.content


@pytest.mark.parametrize(
    "body", [b'{"pad": "' + b"x" * 200_000 + b'"}', b"[" * 100_000, b"[" * 1_000_000]
)
def test_a_body_larger_than_any_callback_is_refused(finished_task, client, body):
    answer = client.post(callback_url(finished_task), body, content_type="application/json")
    assert answer.status_code == 413
    assert "too large" in answer.json()["error"]


def test_sixteen_levels_are_parsed(finished_task, client):
    body = {"a": [[[[[[[[[[[[[[{"deep": True}]]]]]]]]]]]]]]}
    assert json.dumps(body).count("[") + json.dumps(body).count("{") == 16
    answer = client.post(callback_url(finished_task), body, content_type="application/json")
    assert answer.json() == {"ok": True, "scheduled": False}


@given(body=json_values)
@views_settings
def test_no_json_shape_makes_a_server_error(finished_task, client, body):
    raw = json.dumps(body).encode()
    answer = client.post(callback_url(finished_task), raw, content_type="application/json")
    assert answer.status_code in (200, 400)
    assert (answer.status_code == 200) == isinstance(body, dict)


@given(body=st.binary(max_size=300) | number_texts.map(str.encode))
@views_settings
def test_no_bytes_make_a_server_error(finished_task, client, body):
    answer = client.post(callback_url(finished_task), body, content_type="application/json")
    assert answer.status_code in (200, 400)
