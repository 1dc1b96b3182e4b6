"""Workers killed with SIGKILL again and again, at random points of submit, poll and download.

Tasks keep flowing against the Kling simulator while two workers are killed and restarted
(with the embedded broker a killed worker's messages are gone: beat's reconcile must repair
what they carried). At the end every task has ended, the engine made each task exactly once,
and every file in the media folder belongs to a row. The long run is bench/bench_chaos.py;
LIPSYNC_CHAOS_KILLS and LIPSYNC_CHAOS_REPORT let it drive this test.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import pytest

from projects.models import TaskStatus
from tests.support import pipeline_harness as harness
from tests.support.pipeline_harness import (
    SLOW_DOWNLOADS,
    CeleryStack,
    Chaos,
    creates_per_task,
    expected_result_name,
    orphaned_media_files,
    set_faults,
    sim_stats,
    use_prerendered_results,
)

# 30 kills reach every phase (about 10 each) in about a minute; the benchmark makes 150.
KILLS = int(os.environ.get("LIPSYNC_CHAOS_KILLS") or 30)
INTEGRATION_KILLS = 20
DRAIN_TIMEOUT_S = 150

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.timeout(round(KILLS * 3.0 + DRAIN_TIMEOUT_S + 300)),
]
kling_sim, kling_env, scene = harness.kling_sim, harness.kling_env, harness.scene  # fixtures


def test_killed_workers_lose_no_task_and_create_none_twice(
    scene, kling_env, kling_sim, _media_root, tmp_path
):
    report = kill_and_check(KILLS, scene, kling_env, kling_sim, _media_root, tmp_path)
    assert {"submit", "poll", "download"} <= set(report.kills_by_phase), report.kills_by_phase


@pytest.mark.integration
def test_killed_workers_on_redis_and_postgresql(
    scene, kling_env, kling_sim, _media_root, tmp_path, settings
):
    """The same on the scale-out shape, where claims meet real row locks and isolation."""
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    kill_and_check(INTEGRATION_KILLS, scene, kling_env, kling_sim, _media_root, tmp_path)


def kill_and_check(
    kills: int, scene, kling_env, kling_sim, media_root: Path, folder: Path
) -> harness.ChaosReport:
    result = Path(shutil.copyfile(scene.video.file.path, folder / "prerendered.mp4"))
    use_prerendered_results(kling_sim, result)
    set_faults(kling_sim, SLOW_DOWNLOADS)
    seed = int(os.environ.get("LIPSYNC_CHAOS_SEED") or random.randrange(2**32))
    stack = CeleryStack(media_root, kling_env, worker_count=2).start()
    try:
        chaos = Chaos(stack, scene, random.Random(seed))
        report = chaos.run(kills, time_budget_s=kills * 3.0, drain_timeout_s=DRAIN_TIMEOUT_S)
    finally:
        stack.stop()
    tasks = report.tasks
    for task in tasks:
        task.refresh_from_db()
    write_report(report, seed)
    assert report.kills >= kills, f"seed {seed}: {report.kills} kills in the time budget"
    unfinished = [(t.pk, t.status, t.status_message) for t in tasks if t.status != "succeed"]
    assert unfinished == [], f"seed {seed}"
    made = creates_per_task(sim_stats(kling_sim), tasks)
    assert set(made.values()) == {1}, f"seed {seed}: {made}"
    assert all(t.result_file.name == expected_result_name(t) for t in tasks)
    assert all(t.result_file.size == result.stat().st_size for t in tasks)
    assert orphaned_media_files(media_root) == [], f"seed {seed}"
    return report


def write_report(report: harness.ChaosReport, seed: int) -> None:
    target = os.environ.get("LIPSYNC_CHAOS_REPORT")
    if not target:
        return
    figures = {
        "seed": seed,
        "kills": report.kills,
        "kills_by_phase": report.kills_by_phase,
        "tasks": len(report.tasks),
        "succeeded": sum(task.status == TaskStatus.SUCCEED for task in report.tasks),
        "kill_phase_s": round(report.kill_seconds, 1),
        "drain_s": round(report.drain_seconds, 1),
    }
    Path(target).write_text(json.dumps(figures))
