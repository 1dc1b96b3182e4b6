"""Scale-out shape: PostgreSQL, Redis, two workers, beat, gunicorn and S3-compatible storage.

The same code as on one machine, switched by environment variables only. The engine is the
Kling simulator; media live in a bucket of moto's S3 server on a loopback port, so the
simulator fetches our video through a presigned S3 URL and we store results in the bucket.
The simulator's callbacks reach us through gunicorn. One worker is killed in the middle.
"""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from projects.models import ApiCall, LipSyncTask, TaskStatus
from tests.support import pipeline_harness as harness
from tests.support import s3
from tests.support.pipeline_harness import (
    CeleryStack,
    creates_per_task,
    expected_result_name,
    identified_scene,
    queue_tasks,
    referenced_media_names,
    sim_stats,
    wait_for_final,
)
from tests.support.s3 import BUCKET, free_port, s3_environment, use_s3_here
from tests.support.workers import ROOT, database_url_for_tests, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]
kling_sim, kling_env = harness.kling_sim, harness.kling_env  # fixtures
s3_endpoint, bucket = s3.s3_endpoint, s3.bucket  # fixtures


class Gunicorn:
    """The web tier as in production: gunicorn serving lipsync_web.wsgi on a loopback port."""

    def __init__(self, env: dict[str, str], log_path) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        command = [
            sys.executable, "-m", "gunicorn", "lipsync_web.wsgi", "--bind", self.url[7:],
            "--workers", "2", "--threads", "4", "--worker-class", "gthread",
        ]  # fmt: skip
        self.log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT
        )

    def wait_ready(self) -> None:
        def answers() -> bool:
            try:
                return httpx.get(self.url + "/healthz", timeout=2).status_code < 500
            except httpx.TransportError:
                return False

        wait_until(answers, timeout_s=60, what="gunicorn to answer")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def test_many_processes_postgres_redis_and_s3(
    kling_env, kling_sim, project, users, tmp_path, _media_root, settings, s3_endpoint, bucket
):
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    use_s3_here(settings, s3_endpoint)
    scene = identified_scene(project, users["editor"], tmp_path)
    assert scene.video.file.name in keys_in(bucket)
    env = {**kling_env, **s3_environment(s3_endpoint), "LIPSYNC_MAX_CONCURRENT": "3"}
    web = Gunicorn(
        {**stack_env(env), "PUBLIC_BASE_URL": ""}, tmp_path / "gunicorn.log"
    )  # the web tier needs no public address of its own
    env["PUBLIC_BASE_URL"] = web.url  # callbacks go to gunicorn
    stack = CeleryStack(_media_root, env, worker_count=2)
    try:
        web.wait_ready()
        stack.start()
        tasks = queue_tasks(scene, 6, watermark=True)
        wait_until(
            lambda: (
                LipSyncTask.objects.filter(status=TaskStatus.SUBMITTED).exists()
                or LipSyncTask.objects.filter(status=TaskStatus.PROCESSING).exists()
            ),
            timeout_s=60,
            what="a task at the engine",
        )
        stack.kill_and_restart(0)  # its unacked messages wait for the visibility timeout
        wait_for_final(tasks, stack, timeout_s=180)
    finally:
        stack.stop()
        web.stop()
    for task in tasks:
        task.refresh_from_db()
        assert task.status == TaskStatus.SUCCEED, task.status_message
        assert task.result_file.name == expected_result_name(task)
        assert task.watermarked_result_file.name == expected_result_name(task, watermarked=True)
    keys = keys_in(bucket)
    assert {task.result_file.name for task in tasks} <= keys
    assert keys <= referenced_media_names(), keys - referenced_media_names()  # no orphan
    assert set(creates_per_task(sim_stats(kling_sim), tasks).values()) == {1}
    # Callbacks came in through gunicorn and were taken as hints. A task whose create the
    # killed worker held is claimed again later (a second create attempt, which adopts the
    # engine's task): all its callbacks may have come while it was not yet marked at the
    # engine, and those are rightly not hints.
    assert sum(sim_stats(kling_sim)["callbacks_sent"].values()) >= 3 * len(tasks)
    left_alone = [task for task in tasks if task.create_attempts == 1]
    assert left_alone, [task.create_attempts for task in tasks]
    assert all(task.last_hint_at is not None for task in left_alone)
    assert not ApiCall.objects.filter(task__in=tasks, http_status__gte=500).exists()


def stack_env(env: dict[str, str]) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database_url_for_tests(), **env}


def keys_in(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
