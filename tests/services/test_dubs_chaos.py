"""Workers killed with SIGKILL while a dub is made, as in the pipeline's chaos test: two
workers and beat against the Kling simulator, one worker killed at random moments while the
dub's jobs are started, sent, polled, downloaded and put together. The dub still ends done,
of the source's length, with each planned job made once at the engine and no file left
without its row. A step whose worker was lost is taken up again after LIPSYNC_DUB_STALE_S,
shortened here."""

from __future__ import annotations

import os
import random
import time

import av
import pytest

from projects.models import DubState, LipSyncTask
from projects.services import dubs
from tests.support import pipeline_harness as harness
from tests.support.dubs import SHORT_MS, add_dub_video, add_speech_like, write_short_dub_video
from tests.support.pipeline_harness import (
    CeleryStack,
    creates_per_task,
    orphaned_media_files,
    sim_stats,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(600)]

kling_sim, kling_env = harness.kling_sim, harness.kling_env  # fixtures

KILLS = 6
STALE_S = 8
LINES = ((1, 6_000, 2_500), (2, 7_000, 2_000), (1, 25_000, 2_000))
FPS = 12


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    return write_short_dub_video(tmp_path_factory.mktemp("dubchaos") / "interview.mp4")


def test_workers_killed_during_a_dub_lose_nothing_and_pay_for_nothing_twice(
    kling_env, kling_sim, project, users, video_file, _media_root, tmp_path, settings
):
    settings.LIPSYNC_DUB_STALE_S = STALE_S
    env = {**kling_env, "LIPSYNC_DUB_STALE_S": str(STALE_S)}
    video = add_dub_video(project, users["editor"], video_file)
    dub = dubs.create(video=video, user=users["editor"])
    for seed, (person, at, length) in enumerate(LINES, start=1):
        clip = add_speech_like(project, users["editor"], tmp_path / f"l{seed}.wav", seed, length)
        dubs.add_line(dub, dubs.LineInput(person=person, at_ms=at, audio=clip))
    seed = int(os.environ.get("LIPSYNC_CHAOS_SEED") or random.randrange(2**32))
    rng = random.Random(seed)
    stack = CeleryStack(_media_root, env, worker_count=2).start()
    try:
        plan = dubs.submit(dub, users["editor"])
        kills, deadline = 0, time.monotonic() + 420
        while time.monotonic() < deadline:
            dub.refresh_from_db()
            if dub.state in (DubState.DONE, DubState.PAUSED):
                break
            if kills < KILLS:
                time.sleep(rng.uniform(1.0, 4.0))
                stack.kill_and_restart(rng.randrange(len(stack.workers)))
                kills += 1
            else:
                time.sleep(0.5)
    finally:
        stack.stop()
    dub.refresh_from_db()
    assert kills == KILLS, f"seed {seed}: the dub ended before the kills"
    assert dub.state == DubState.DONE, f"seed {seed}: {dub.state_message}\n{stack.logs()}"
    tasks = list(LipSyncTask.objects.filter(dub_jobs__dub=dub).distinct())
    made = creates_per_task(sim_stats(kling_sim), tasks)
    assert len(tasks) == plan.engine_tasks, f"seed {seed}"
    assert set(made.values()) == {1}, f"seed {seed}: {made}"
    assert len(sim_stats(kling_sim).get("creates", {})) == plan.engine_tasks, f"seed {seed}"
    with av.open(dub.result_file.path) as result:
        frames = sum(1 for _ in result.decode(result.streams.video[0]))
    assert abs(frames - SHORT_MS * FPS / 1000) <= 1, f"seed {seed}"
    assert orphaned_media_files(_media_root) == [], f"seed {seed}"
