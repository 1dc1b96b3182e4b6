"""Dubs through the Kling client against the simulator, in this process: the engine creates
exactly the planned jobs, each once, and a job that fails at the engine pauses the dub, after
which "Try again" pays only for that job.

The simulator identifies faces with dlib and renders real lip-syncs, fetching our media through
signed links from the live server; chained jobs are identified again on the simulator's own
results (by the result's video, as the contract allows).
"""

from __future__ import annotations

import pytest

from projects.models import DubState, LipSyncTask, TaskStatus
from projects.services import dubs
from tests.support import pipeline_harness as harness
from tests.support.dubs import add_dub_video, add_speech_like, write_short_dub_video
from tests.support.pipeline_harness import set_faults, sim_stats

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

kling_sim, kling_env = harness.kling_sim, harness.kling_env  # fixtures

LINES = ((1, 6_000, 2_500), (2, 7_000, 2_000), (1, 25_000, 2_000))


@pytest.fixture(scope="module")
def video_file(tmp_path_factory):
    return write_short_dub_video(tmp_path_factory.mktemp("dubkling") / "interview.mp4")


@pytest.fixture
def dub(kling_env, project, users, video_file, tmp_path):
    video = add_dub_video(project, users["editor"], video_file)
    dub = dubs.create(video=video, user=users["editor"], original_volume=0.5)
    for seed, (person, at, length) in enumerate(LINES, start=1):
        clip = add_speech_like(project, users["editor"], tmp_path / f"l{seed}.wav", seed, length)
        dubs.add_line(dub, dubs.LineInput(person=person, at_ms=at, audio=clip))
    return dub


def creates(kling_sim) -> dict[str, int]:
    return sim_stats(kling_sim).get("creates", {})


def test_the_engine_creates_the_planned_jobs_each_once(dub, kling_sim, users):
    plan = dubs.submit(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.2, timeout_s=600)
    dub.refresh_from_db()
    assert dub.state == DubState.DONE, dub.state_message
    made = creates(kling_sim)
    tasks = LipSyncTask.objects.filter(dub_jobs__dub=dub)
    assert len(made) == plan.engine_tasks == tasks.count() == 3
    assert all(made[task.external_task_id] == 1 for task in tasks)
    assert all(task.status == TaskStatus.SUCCEED for task in tasks)
    # A chained job is identified by the video id of the job before it: the engine fetches
    # only the windows cut from the source.
    jobs = list(dub.jobs.select_related("task__video"))
    chained = [job for job in jobs if job.chain_index > 0]
    assert chained, "the plan chains two people in one window"
    for job in chained:
        before = next(
            j
            for j in jobs
            if j.window_index == job.window_index and j.chain_index < job.chain_index
        )
        assert job.task.video.kling_video_id == before.task.result_video_id != ""
    fetched = sim_stats(kling_sim)["fetches"].get("video_url", 0)
    assert fetched == len(jobs) - len(chained)


def test_a_failed_job_pauses_the_dub_and_try_again_pays_only_for_it(dub, kling_sim, users):
    set_faults(kling_sim, "policy-fail")
    dubs.submit(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.2, timeout_s=600)
    dub.refresh_from_db()
    assert dub.state == DubState.PAUSED
    assert "content policy" in dub.state_message
    failed = LipSyncTask.objects.get(status=TaskStatus.FAILED)
    before = creates(kling_sim)

    dubs.try_again(dub, users["editor"])
    dubs.run_in_process(dub, poll_s=0.2, timeout_s=600)
    dub.refresh_from_db()
    assert dub.state == DubState.DONE, dub.state_message
    after = creates(kling_sim)
    again = {key: count for key, count in after.items() if key not in before}
    # The failed job ran once more; what had succeeded before the failure was not sent again.
    tasks = LipSyncTask.objects.filter(dub_jobs__dub=dub)
    assert tasks.count() == 3 and failed not in tasks
    assert len(after) == 4 and all(count == 1 for count in after.values())
    assert len(again) == 3 - sum(1 for k in before if k != failed.external_task_id)
