"""The pipeline through real Celery worker and beat processes, against the Kling simulator.

The simulator fetches our media through signed links from the live server and calls us back
there; the workers submit, poll, download and probe. Each test checks what the issue promises:
every task ends, the engine made each task at most once, and no stored file is left unclaimed.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects import background, selectors
from projects.engines.base import EngineError
from projects.mediakit.probe import probe_media
from projects.models import ApiCall, LipSyncTask, TaskStatus
from projects.services import pipeline
from tests.support import pipeline_harness as harness
from tests.support.pipeline_harness import (
    CeleryStack,
    Scene,
    configure_simulator,
    creates_per_task,
    expected_result_name,
    orphaned_media_files,
    queue_tasks,
    set_faults,
    sim_stats,
    wait_for_final,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
kling_sim, kling_env, scene = harness.kling_sim, harness.kling_env, harness.scene  # fixtures


def engine_calls(task: LipSyncTask) -> dict[str, int]:
    counts: dict[str, int] = {}
    for method, endpoint in ApiCall.objects.filter(task=task).values_list("method", "endpoint"):
        key = f"{method} {endpoint.rsplit('/', 1)[0] if method == 'GET' else endpoint}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def test_task_goes_from_queue_to_stored_result_with_callbacks(
    scene, kling_env, kling_sim, _media_root
):
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        (task,) = queue_tasks(scene, 1, watermark=True)
        wait_for_final([task], stack, timeout_s=120)
    finally:
        stack.stop()
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEED, task.status_message
    assert task.result_file.name == expected_result_name(task)
    assert task.watermarked_result_file.name == expected_result_name(task, watermarked=True)
    info = probe_media(task.result_file.path)
    assert info.kind == "video"
    assert abs(info.duration_ms - scene.video.duration_ms) < 300
    assert task.credits_charged is not None
    stats = sim_stats(kling_sim)
    assert creates_per_task(stats, [task]) == {task.external_task_id: 1}
    assert sum(stats["callbacks_sent"].values()) >= 3  # submitted, processing, succeed
    calls = engine_calls(task)
    assert calls["POST /v1/videos/advanced-lip-sync"] == 1
    assert sum(calls.values()) < 10, calls
    assert orphaned_media_files(_media_root) == []


def test_without_public_base_url_no_callback_is_sent_and_polling_finishes(
    scene, kling_env, kling_sim, _media_root, settings
):
    # The advanced task sends its audio inline and names the video by session: it needs no
    # public address, so it must work, polled, with no callback address at all.
    settings.PUBLIC_BASE_URL = None
    stack = CeleryStack(_media_root, {**kling_env, "PUBLIC_BASE_URL": ""}).start()
    try:
        tasks = queue_tasks(scene, 2)
        wait_for_final(tasks, stack, timeout_s=120)
    finally:
        stack.stop()
    for task in tasks:
        task.refresh_from_db()
        assert task.status == TaskStatus.SUCCEED, task.status_message
    stats = sim_stats(kling_sim)
    assert stats["callbacks_sent"] == {}
    assert set(creates_per_task(stats, tasks).values()) == {1}


FAULTS = ",".join(
    [
        "1303x3@create",  # concurrency over the pack's limit
        "http429x2@create",  # a bare rate limit without a Kling code
        "5000+@create",  # created, then answered with an internal error
        "hang@create",  # created, then no answer until the line drops
        "drop@create",  # created, then the connection closes without a word
        "5001x3@get",
        "http502x2@get",
        "drop@get",
        "hang@list",  # the look-up after an unclear create fails once too
        "drop-callbackx4",
        "dup-callbackx6",
    ]
)


def test_faults_lose_no_task_and_create_none_twice(scene, kling_env, kling_sim, _media_root):
    # Two engine slots for our four: 1303s come from the engine's own count as well.
    configure_simulator(kling_sim, concurrency=2)
    set_faults(kling_sim, FAULTS)
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        tasks = queue_tasks(scene, 6)
        wait_for_final(tasks, stack, timeout_s=240)
    finally:
        stack.stop()
    statuses = {str(t.pk): (t.status, t.status_message) for t in LipSyncTask.objects.all()}
    assert {status for status, _ in statuses.values()} == {TaskStatus.SUCCEED}, statuses
    stats = sim_stats(kling_sim)
    assert set(creates_per_task(stats, tasks).values()) == {1}, stats["creates"]
    assert httpx.get(f"{kling_sim.url}/__sim__/faults").json() == []  # every fault was met
    assert orphaned_media_files(_media_root) == []


def test_callbacks_replayed_late_or_twice_change_nothing(scene, kling_env, kling_sim, _media_root):
    stack = CeleryStack(_media_root, kling_env).start()
    try:
        (task,) = queue_tasks(scene, 1)
        wait_for_final([task], stack, timeout_s=120)
        task.refresh_from_db()
        before = (task.status, task.result_file.name, task.finished_at)
        ours = ApiCall.objects.filter(task=task).exclude(method=ApiCall.CALLBACK_METHOD)
        calls_before = ours.count()
        callbacks_before = ApiCall.objects.filter(task=task).count() - calls_before
        url = reverse("projects:engine-callback", args=[task.pk, task.callback_token])
        stale = {"task_id": task.engine_task_id, "task_status": "processing"}
        done = {"task_id": task.engine_task_id, "task_status": "succeed"}
        client = Client()
        answers = [
            client.post(url, json.dumps(body), content_type="application/json").json()
            for body in (stale, done, done, stale)
        ]
    finally:
        stack.stop()
    assert answers == [{"ok": True, "scheduled": False}] * 4
    task.refresh_from_db()
    assert (task.status, task.result_file.name, task.finished_at) == before
    assert ours.count() == calls_before, "no call to the engine for a replayed callback"
    received = ApiCall.objects.filter(task=task, method=ApiCall.CALLBACK_METHOD).count()
    assert received == callbacks_before + 4, "each callback received is logged"


# --- Races the worker runs exposed, replayed deterministically in this process ---------------


@pytest.fixture
def local_task(face_video, speech, settings) -> LipSyncTask:
    """A queued task on the local engine, moved to `submitting` by the dispatcher."""
    settings.LIPSYNC_ENGINE = "local"
    face = selectors.current_faces(face_video)[0]
    local = Scene(face_video.project, face_video.created_by, face_video, face, speech)
    (task,) = queue_tasks(local, 1)
    assert pipeline.dispatch("local") == [str(task.pk)]
    return task


def test_two_deliveries_of_one_submit_send_one_create(local_task, monkeypatch, _media_root):
    """A redelivered submit arriving while the first is sending must not create again."""
    send = pipeline._create_at_engine
    overlapped = []

    def create_while_another_delivery_runs(engine, task):
        if not overlapped:
            overlapped.append(True)
            pipeline.submit(str(task.pk))  # the second delivery, in the middle of the first
        return send(engine, task)

    monkeypatch.setattr(pipeline, "_create_at_engine", create_while_another_delivery_runs)
    pipeline.submit(str(local_task.pk))
    local_task.refresh_from_db()
    assert local_task.status == TaskStatus.SUCCEED, local_task.status_message
    assert ApiCall.objects.filter(task=local_task, endpoint="create_advanced").count() == 1
    assert local_task.create_attempts == 1


def test_overlapping_result_downloads_fetch_once_and_keep_one_copy(
    local_task, monkeypatch, _media_root
):
    """A poll and a callback's refresh both saw `succeed` at the same time: the one that
    claimed the download fetches the result; the other leaves it."""
    keep, download = pipeline.store_results, pipeline._download
    seen_states = []
    fetched = []

    def remember_state(task, state, delivery=""):
        seen_states.append(state)
        keep(task, state, delivery)

    def download_while_another_attempt_finishes(url, target):
        fetched.append(url)
        if len(seen_states) == 1:
            seen_states.append("overlapped")
            keep(pipeline._load(str(local_task.pk)), seen_states[0], "the callback's hint")
        return download(url, target)

    monkeypatch.setattr(pipeline, "store_results", remember_state)
    monkeypatch.setattr(pipeline, "_download", download_while_another_attempt_finishes)
    pipeline.submit(str(local_task.pk))
    local_task.refresh_from_db()
    assert seen_states[1:] == ["overlapped"]
    assert len(fetched) == 1, "the result is downloaded once"
    assert local_task.status == TaskStatus.SUCCEED, local_task.status_message
    assert local_task.download_claim == ""
    assert local_task.result_file.name == expected_result_name(local_task)
    assert probe_media(local_task.result_file.path).kind == "video"
    assert orphaned_media_files(_media_root) == []
    assert not (Path(django_settings.VAR_DIR) / "work" / str(local_task.pk)).exists()


def test_a_download_claim_is_one_deliverys_until_it_lapses(local_task):
    """The same message delivered again (its worker was lost) takes its claim back at once;
    another waits until the claim has lapsed."""
    assert pipeline._claim_download(local_task, "poll-1")
    assert not pipeline._claim_download(local_task, "hint-1")
    assert pipeline._claim_download(local_task, "poll-1")
    lapsed = timezone.now() - timedelta(seconds=pipeline.DOWNLOAD_CLAIM_S + 1)
    LipSyncTask.objects.filter(pk=local_task.pk).update(download_claimed_at=lapsed)
    assert pipeline._claim_download(local_task, "hint-1")


def test_retry_delay_doubles_with_jitter_and_is_capped(settings):
    settings.LIPSYNC_RETRY_BACKOFF_S = [5, 300]
    transient = EngineError("busy", permanent=False)

    def delay(attempts: int, error: EngineError = transient, jitter: float = 0.5) -> float:
        return pipeline.create_retry_delay_s(
            LipSyncTask(create_attempts=attempts), error, jitter=lambda: jitter
        )

    assert [delay(n) for n in range(1, 9)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert delay(1, jitter=0.0) == 3.75 and delay(1, jitter=1.0) == 6.25  # ±25 %
    assert delay(7, jitter=1.0) == 300  # never past the cap
    # A Retry-After beyond the cap would outlive the broker's visibility timeout.
    told_to_wait = EngineError("busy", permanent=False, retry_after=7200)
    assert delay(1, told_to_wait) == 300


def test_full_engine_account_is_waited_for_past_the_attempt_limit(scene, kling_sim, settings):
    """1303 means "wait for a slot": it does not use up the task's create attempts."""
    settings.LIPSYNC_MAX_CONCURRENT = 2
    configure_simulator(kling_sim, concurrency=1, task_seconds=60)
    holder, waiter = queue_tasks(scene, 2)
    pipeline.dispatch("kling")
    pipeline.submit(str(holder.pk))
    # As after eight refused attempts, the last of which has come back: the next one is due.
    LipSyncTask.objects.filter(pk=waiter.pk).update(
        create_attempts=pipeline.MAX_CREATE_ATTEMPTS, next_poll_at=timezone.now()
    )
    pipeline.submit(str(waiter.pk))
    waiter.refresh_from_db()
    assert waiter.status == TaskStatus.SUBMITTING
    assert waiter.status_message.startswith("Waiting to retry: All of the Kling account's task")
    assert waiter.create_attempts == pipeline.MAX_CREATE_ATTEMPTS + 1
    assert sim_stats(kling_sim)["creates"] == {holder.external_task_id: 1}


# --- Celery configuration ------------------------------------------------------------------


def test_tasks_are_json_acked_late_and_time_limited():
    from lipsync_web.celery import app

    assert app.conf.accept_content == ["json"] and app.conf.task_serializer == "json"
    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    for task in (
        background.submit_task,
        background.poll_task,
        background.refresh_task,
        background.reconcile,
    ):
        assert 0 < task.soft_time_limit < task.time_limit, task.name
    # reconcile only re-submits a quiet `submitting` task once no attempt can still be alive.
    assert background.submit_task.time_limit < pipeline.submit_stale_after_s()
    # Face searches are media work: a short submit limit must not cut them off.
    assert background.identify_faces.time_limit == background.MEDIA_TASK_LIMITS["time_limit"]
    # Whatever decodes and encodes a whole source (up to 30 minutes) gets the longest limit.
    for task in (background.probe_video, background.import_media, background.assemble_dub):
        assert task.time_limit == background.WHOLE_SOURCE_TASK_LIMITS["time_limit"], task.name
    schedule = django_settings.CELERY_BEAT_SCHEDULE["reconcile-tasks"]
    assert schedule["task"] == background.reconcile.name


@pytest.mark.integration
def test_redis_visibility_timeout_outlasts_every_countdown():
    """A scheduled message comes back to another worker only once it is surely lost."""
    assert django_settings.CELERY_BROKER_URL.startswith("redis://")
    visibility_s = django_settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    longest_countdown_s = max(
        django_settings.LIPSYNC_RETRY_BACKOFF_S[-1],
        max(django_settings.LIPSYNC_POLL_INTERVALS_S),
        pipeline.HINT_DEBOUNCE_S,
    )
    assert visibility_s > longest_countdown_s + django_settings.LIPSYNC_SUBMIT_TIME_LIMIT_S
    # Tasks are acked late: a message still running when it became visible again would be
    # delivered to a second worker while the first still works on it.
    assert visibility_s > background.WHOLE_SOURCE_TASK_LIMITS["time_limit"]


def test_a_burst_of_callbacks_schedules_one_query(local_task):
    """Callbacks are hints: a duplicated one inside the debounce window asks nothing more."""
    LipSyncTask.objects.filter(pk=local_task.pk).update(
        status=TaskStatus.SUBMITTED, engine_task_id="engine-1", submitted_at=timezone.now()
    )
    url = reverse("projects:engine-callback", args=[local_task.pk, local_task.callback_token])
    body = json.dumps({"task_id": "engine-1", "task_status": "processing"})
    client = Client()
    answers = [client.post(url, body, content_type="application/json").json() for _ in range(3)]
    assert [answer["scheduled"] for answer in answers] == [True, False, False]
    forged = reverse("projects:engine-callback", args=[local_task.pk, "not-the-token"])
    assert client.post(forged, body, content_type="application/json").status_code == 404


def test_poll_schedule_doubles_up_to_a_minute(settings):
    settings.LIPSYNC_POLL_INTERVALS_S = [5, 10, 20, 40, 60]
    assert [pipeline.poll_interval_s(n) for n in range(7)] == [5, 10, 20, 40, 60, 60, 60]


# --- Results come only through the safe fetcher, from the engine's own answer -------------------


def engine_finished(kling_sim, task: LipSyncTask) -> LipSyncTask:
    """Submit in this process and wait until the simulator has finished the task."""
    pipeline.dispatch("kling")
    pipeline.submit(str(task.pk))
    task.refresh_from_db()
    assert task.status == TaskStatus.SUBMITTED, task.status_message
    engine_task = kling_sim.sim.store.task(task.engine_task_id, "advanced")
    assert engine_task.done.wait(30)
    return task


@pytest.mark.parametrize(
    ("setting", "value", "words"),
    [
        ("LIPSYNC_RESULT_MAX_BYTES", 1000, "larger"),
        ("LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS", frozenset(), "inside our network"),
    ],
)
def test_result_refused_by_the_fetcher_is_retried_then_given_up(
    scene, kling_sim, settings, _media_root, setting, value, words
):
    setattr(settings, setting, value)
    task = engine_finished(kling_sim, queue_tasks(scene, 1)[0])
    pipeline.poll(str(task.pk), task.poll_seq)
    task.refresh_from_db()
    assert task.is_at_engine  # a refused download is tried again later
    assert task.status_message.startswith("Downloading the result failed; we will try again.")
    assert words in task.status_message.lower()
    LipSyncTask.objects.filter(pk=task.pk).update(
        submitted_at=timezone.now() - timedelta(seconds=settings.LIPSYNC_TASK_GIVE_UP_S + 1)
    )
    task.refresh_from_db()
    pipeline.poll(str(task.pk), task.poll_seq)
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert task.status_message.startswith("We could not download the result:")
    assert not task.result_file
    assert orphaned_media_files(_media_root) == []


def test_a_callback_body_is_never_believed(scene, kling_sim, _media_root, live_server):
    """A forged `succeed` with a URL of its own: we ask the engine, which says otherwise."""
    configure_simulator(kling_sim, task_seconds=30)
    (task,) = queue_tasks(scene, 1)
    pipeline.dispatch("kling")
    pipeline.submit(str(task.pk))
    task.refresh_from_db()
    forged = {
        "task_id": task.engine_task_id,
        "task_status": "succeed",
        "task_result": {"videos": [{"id": "x", "url": f"{live_server.url}/healthz"}]},
    }
    url = reverse("projects:engine-callback", args=[task.pk, task.callback_token])
    answer = Client().post(url, json.dumps(forged), content_type="application/json")
    assert answer.json()["ok"]  # a hint at most (the engine's own callbacks come too)
    pipeline.refresh_from_engine(task)  # what the scheduled query does
    task.refresh_from_db()
    assert task.is_at_engine
    assert not task.result_file
    assert orphaned_media_files(_media_root) == []
