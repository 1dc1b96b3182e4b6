"""The pipeline when the engine is down or forgets, through a real Celery worker and beat.

The Kling simulator is stopped (connections are refused, as when Kling cannot be reached) and
started again on the same port, which also makes it forget every face session, as a restarted
engine does. Timings are shortened: the backoff doubles from 1 s to 4 s, the give-up time is
20 s.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.urls import reverse

from projects.models import ApiCall, LipSyncTask, TaskStatus
from tests.support.pipeline_harness import (
    CeleryStack,
    Scene,
    apply_to_settings,
    creates_per_task,
    identified_scene,
    kling_environment,
    queue_tasks,
    sim_stats,
    start_simulator,
    wait_for_final,
)
from tests.support.workers import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BACKOFF_S = (1, 4)
GIVE_UP_S = 20
CREATE_ENDPOINT = "/v1/videos/advanced-lip-sync"
IDENTIFY_ENDPOINT = "/v1/videos/identify-face"


class Switchable:
    """The simulator on one port that can be stopped and started again (forgetting all)."""

    def __init__(self, files_dir: Path) -> None:
        self.files_dir = files_dir
        self.running = start_simulator(files_dir)
        self.port = int(self.running.url.rsplit(":", 1)[1])
        self.url = self.running.url
        self._sessions: dict = {}

    def start(self, *, keep_sessions: bool = False) -> None:
        """Serve again. `keep_sessions`: as after a network cut (the engine itself kept
        running); otherwise as after a restart, which forgets every face session."""
        if self.running is None:
            self.running = start_simulator(self.files_dir, port=self.port)
            if keep_sessions:
                self.running.sim.store.sessions.update(self._sessions)

    def stop(self) -> None:
        if self.running is not None:
            self._sessions = dict(self.running.sim.store.sessions)
            self.running.stop()
            self.running = None


@pytest.fixture
def engine(tmp_path_factory) -> Iterator[Switchable]:
    switchable = Switchable(tmp_path_factory.mktemp("simfiles"))
    yield switchable
    switchable.stop()


@pytest.fixture
def outage_env(engine, live_server, settings) -> dict[str, str]:
    env = kling_environment(
        engine.url,
        live_server.url,
        LIPSYNC_RETRY_BACKOFF_S=",".join(str(n) for n in BACKOFF_S),
        LIPSYNC_TASK_GIVE_UP_S=str(GIVE_UP_S),
    )
    apply_to_settings(settings, env)
    settings.LIPSYNC_RETRY_BACKOFF_S = list(BACKOFF_S)
    settings.LIPSYNC_TASK_GIVE_UP_S = GIVE_UP_S
    return env


@pytest.fixture
def outage_scene(outage_env, project, users, tmp_path) -> Scene:
    return identified_scene(project, users["editor"], tmp_path)


def calls(task: LipSyncTask, endpoint: str | None = None) -> list[ApiCall]:
    rows = ApiCall.objects.filter(task=task).order_by("created_at", "pk")
    return list(rows.filter(endpoint=endpoint) if endpoint else rows)


def expected_gaps(count: int) -> list[float]:
    """The backoff's steps between `count + 1` attempts: 1, 2, 4, 4, … seconds."""
    first, cap = BACKOFF_S
    return [min(cap, first * 2**step) for step in range(count)]


def assert_follows_backoff(times: list[float]) -> None:
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    for gap, step in zip(gaps, expected_gaps(len(gaps)), strict=True):
        # ±25 % jitter; a little more for the worker's own latency.
        assert 0.75 * step - 0.2 <= gap <= 1.25 * step + 1.5, (gaps, expected_gaps(len(gaps)))


def test_unreachable_engine_is_backed_off_and_given_up_at_the_deadline(
    outage_scene, outage_env, engine, _media_root
):
    engine.stop()
    stack = CeleryStack(_media_root, outage_env).start()
    try:
        (task,) = queue_tasks(outage_scene, 1)
        wait_for_final([task], stack, timeout_s=GIVE_UP_S + 30)
    finally:
        stack.stop()
    task.refresh_from_db()
    assert task.status == TaskStatus.FAILED
    assert task.status_message == (
        "Kling could not be reached for 20 seconds; nothing was charged. Try again later."
    )
    assert task.can_retry
    made = calls(task)
    # Every attempt made one call (no lookup: no create ever got through), on the schedule.
    assert {call.endpoint for call in made} == {CREATE_ENDPOINT}
    assert all(call.http_status is None and "cannot be reached" in call.error for call in made)
    assert_follows_backoff([call.created_at.timestamp() for call in made])
    assert 5 <= len(made) <= 9, len(made)  # 1+2+4+4+4+4 s ≈ 20 s; ~240 a minute before
    ended_after = (task.finished_at - task.sending_since).total_seconds()
    assert GIVE_UP_S <= ended_after <= GIVE_UP_S + BACKOFF_S[1] + 2, ended_after


def test_cancel_while_waiting_and_recovery_after_a_restart(
    outage_scene, outage_env, engine, clients, _media_root
):
    """One task is cancelled while it waits; the other goes on by itself when the engine is
    back (a restarted engine, so its face session is found again first) and is made once."""
    engine.stop()
    stack = CeleryStack(_media_root, outage_env).start()
    try:
        cancelled, recovered = queue_tasks(outage_scene, 2)
        wait_until(
            lambda: all(
                LipSyncTask.objects.get(pk=task.pk).is_waiting_to_retry
                for task in (cancelled, recovered)
            ),
            timeout_s=15,
            what="both tasks to wait for their next try",
        )
        page = clients["editor"].get(reverse("projects:task", args=[cancelled.pk]))
        assert b"Next try at" in page.content and b">Cancel</button>" in page.content
        answer = clients["editor"].post(
            reverse("projects:task-cancel", args=[cancelled.pk]), follow=True
        )
        assert b"nothing was charged" in answer.content
        cancelled.refresh_from_db()
        assert cancelled.status == TaskStatus.CANCELLED
        calls_when_cancelled = len(calls(cancelled))

        wait_until(
            lambda: LipSyncTask.objects.get(pk=recovered.pk).create_attempts >= 3,
            timeout_s=15,
            what="a few failed attempts",
        )
        engine.start()
        back_at = time.time()
        wait_for_final([recovered], stack, timeout_s=60)
    finally:
        stack.stop()
    recovered.refresh_from_db()
    assert recovered.status == TaskStatus.SUCCEED, recovered.status_message
    assert creates_per_task(sim_stats(engine.running), [recovered]) == {
        recovered.external_task_id: 1
    }
    first_after = next(call for call in calls(recovered) if call.http_status is not None)
    assert first_after.created_at.timestamp() - back_at <= BACKOFF_S[1] * 1.25 + 1.5
    # The restarted engine had forgotten the face session: found again once, automatically.
    assert len([c for c in calls(recovered, IDENTIFY_ENDPOINT) if c.http_status == 200]) == 1
    assert len(calls(cancelled)) == calls_when_cancelled  # nothing more was sent for it


def test_task_after_the_engine_lost_its_sessions_succeeds_after_one_identify(
    outage_scene, outage_env, engine, _media_root
):
    engine.stop()
    engine.start()  # a restarted engine knows no face session
    stack = CeleryStack(_media_root, outage_env).start()
    try:
        (task,) = queue_tasks(outage_scene, 1)
        wait_for_final([task], stack, timeout_s=60)
    finally:
        stack.stop()
    task.refresh_from_db()
    assert task.status == TaskStatus.SUCCEED, task.status_message
    assert task.face.session_id != outage_scene.face.session_id  # matched in the new session
    identifies = calls(task, IDENTIFY_ENDPOINT)
    assert [call.http_status for call in identifies] == [200]
    creates = [call.business_code for call in calls(task, CREATE_ENDPOINT)]
    assert creates == ["1201", "0"], creates  # refused with the lost session, then made
    assert creates_per_task(sim_stats(engine.running), [task]) == {task.external_task_id: 1}
    assert task.create_attempts == 1


# --- a long outage, scaled down (bench/bench_outage.py runs it at 1/20 of real time) ----------

FULL_OUTAGE_S = 600
FULL_BACKOFF_S = (5, 300)
TARGET_CALLS_PER_TASK = 12


def scaled_outage_settings() -> tuple[float, int]:
    """(scale, tasks): small here; the benchmark sets LIPSYNC_OUTAGE_SCALE and _TASKS."""
    return (
        float(os.environ.get("LIPSYNC_OUTAGE_SCALE", "0.01")),
        int(os.environ.get("LIPSYNC_OUTAGE_TASKS", "3")),
    )


def test_a_ten_minute_outage_costs_few_calls_and_ends_within_a_step(
    outage_scene, engine, live_server, settings, _media_root
):
    """10 minutes without the engine (scaled): at most 12 calls a task, and the first call
    after its return within one backoff step; then every task finishes, made once."""
    scale, count = scaled_outage_settings()
    backoff = [FULL_BACKOFF_S[0] * scale, FULL_BACKOFF_S[1] * scale]
    env = kling_environment(
        engine.url,
        live_server.url,
        LIPSYNC_RETRY_BACKOFF_S=",".join(f"{n:g}" for n in backoff),
        LIPSYNC_TASK_GIVE_UP_S="3600",
        LIPSYNC_MAX_CONCURRENT=str(count),
    )
    apply_to_settings(settings, env)
    engine.stop()
    stack = CeleryStack(_media_root, env).start()
    try:
        tasks = queue_tasks(outage_scene, count)
        time.sleep(FULL_OUTAGE_S * scale)
        engine.start(keep_sessions=True)  # the network came back; the engine never stopped
        back_at = time.time()
        wait_for_final(tasks, stack, timeout_s=backoff[1] + 120)
    finally:
        stack.stop()
    made_at_engine = sim_stats(engine.running).get("creates", {})
    figures = outage_figures(tasks, back_at, scale, made_at_engine)
    if os.environ.get("LIPSYNC_OUTAGE_REPORT"):
        Path(os.environ["LIPSYNC_OUTAGE_REPORT"]).write_text(json.dumps(figures))
    assert figures["succeeded"] == count, figures
    assert figures["creates_made_per_task"] == [1] * count, figures
    assert figures["max_calls_during_outage_per_task"] <= TARGET_CALLS_PER_TASK, figures
    assert figures["first_call_after_return_s_full_scale"] <= FULL_BACKOFF_S[1], figures
    # Every task tries within a step of the return (plus the worker's own latency).
    assert figures["last_first_call_after_return_s_full_scale"] * scale <= backoff[1] + 2, figures


def outage_figures(
    tasks: list[LipSyncTask], back_at: float, scale: float, made_at_engine: dict[str, int]
) -> dict:
    during, total, first_after = [], [], []
    for task in tasks:
        task.refresh_from_db()
        made = calls(task)
        during.append(sum(1 for call in made if call.created_at.timestamp() < back_at))
        total.append(len(made))
        after = [c.created_at.timestamp() for c in made if c.created_at.timestamp() >= back_at]
        first_after.append(min(after) - back_at if after else float("inf"))
    return {
        "tasks": len(tasks),
        "scale": scale,
        "outage_s_full_scale": FULL_OUTAGE_S,
        "succeeded": sum(task.status == TaskStatus.SUCCEED for task in tasks),
        "calls_during_outage_per_task": during,
        "max_calls_during_outage_per_task": max(during),
        "calls_per_task_in_all": total,
        "first_call_after_return_s_full_scale": round(min(first_after) / scale, 1),
        "last_first_call_after_return_s_full_scale": round(max(first_after) / scale, 1),
        "creates_made_per_task": [made_at_engine.get(task.external_task_id, 0) for task in tasks],
    }
