"""Benchmark: 1,000 lip-sync tasks in flight through the pipeline, against the Kling simulator.

The whole stack as in production: PostgreSQL and Redis when they answer on loopback (else
SQLite and the embedded broker), gunicorn taking the engine's callbacks, a Celery worker
(prefork) and beat. The simulator serves a pre-rendered result for every task (1,000 real
renders do not fit on two cores), so the figures are the pipeline's own cost: submit, poll or
callback, download, probe, store. Tasks are created with the service the timeline form calls.

Two runs on the same data: with callbacks (PUBLIC_BASE_URL set for the workers), then polling
only (no callback address is sent). Figures per run: wall time, engine calls per task (the
simulator's count and our ApiCall rows), worker CPU seconds. Targets: fewer than 6 engine
calls per task with callbacks; without them, no more than 1 create plus the polls that the
schedule (5, 10, 20, 40, 60 s) implies for when each task really finished at the engine.

    .venv/bin/python bench/bench_pipeline.py [--quick] [--tasks N]
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    ROOT,
    Gunicorn,
    app_environment,
    free_port,
    fresh_var_dir,
    log,
    quick_mode,
    report,
    setup_django,
)

SIM_TASK_SECONDS = 10.0
POLL_SCHEDULE_S = [5, 10, 20, 40, 60]
WORKER_CONCURRENCY = 4
TARGET_CALLS_WITH_CALLBACKS = 6
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/lipsync_bench_pipeline_{pid}"
REDIS_URL = "redis://127.0.0.1:6379/14"
ACCESS_KEY, SECRET_KEY = "bench-access-key-0123456789", "bench-secret-key-0123456789abcdef"


def task_count() -> int:
    if "--tasks" in sys.argv:
        return int(sys.argv[sys.argv.index("--tasks") + 1])
    return 100 if quick_mode() else 1000


# --- services on this machine ------------------------------------------------------------------


def reachable(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def database_and_broker() -> tuple[str | None, str]:
    """PostgreSQL and Redis if they answer (the scale-out shape), else SQLite and files."""
    if not (reachable(5432) and reachable(6379) and shutil.which("psql")):
        return None, "filesystem://"
    url = POSTGRES_URL.format(pid=os.getpid())
    psql(f"CREATE DATABASE {url.rsplit('/', 1)[1]}")
    return url, REDIS_URL


def drop_database(url: str | None) -> None:
    if url:
        psql(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


def psql(statement: str) -> None:
    command = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", statement]
    subprocess.run(command, check=True, capture_output=True)


@dataclass
class Celery:
    """One prefork worker and beat; their CPU time is read before they stop."""

    env: dict[str, str]
    var_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self) -> Celery:
        celery = [sys.executable, "-m", "celery", "-A", "lipsync_web"]
        schedule = self.var_dir / f"beat-{time.monotonic_ns()}"
        commands = [
            [*celery, "worker", "--pool", "prefork", "--concurrency", str(WORKER_CONCURRENCY),
             "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
            [*celery, "beat", "--loglevel", "WARNING", "--schedule", str(schedule)],
        ]  # fmt: skip
        log_file = (self.var_dir / "celery.log").open("ab")
        self.processes = [
            subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log_file, stderr=log_file)
            for command in commands
        ]
        return self

    def worker_cpu_s(self) -> float:
        return tree_cpu_s(self.processes[0].pid)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its children, including the probes they waited for."""
    import psutil

    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


# --- the data -----------------------------------------------------------------------------------


def make_scene(folder: Path):
    """A project with a video identified by the simulator and a speech clip, as in the tests."""
    from django.contrib.auth import get_user_model

    from projects import selectors
    from projects.services import membership
    from tests.support.fixtures import add_speech, add_video, make_face_video_file
    from tests.support.pipeline_harness import Scene

    user = get_user_model().objects.create_user("bench-editor")  # never logs in
    project = membership.create_project(name="Pipeline benchmark", owner=user)
    video = add_video(project, user, make_face_video_file(folder / "presenter.mp4"))
    (face,) = selectors.current_faces(video)
    clip = add_speech(project, user, folder / "line.wav")
    return Scene(project=project, user=user, video=video, face=face, clip=clip)


# --- one run ------------------------------------------------------------------------------------


def run(label: str, scene, count: int, env: dict[str, str], var_dir: Path, sim) -> dict:
    from projects.models import FINAL_STATUSES, LipSyncTask
    from tests.support.pipeline_harness import queue_tasks
    from tests.support.workers import purge_broker

    purge_broker()
    calls_before = engine_calls(sim)
    celery = Celery(env, var_dir).start()
    time.sleep(3)  # the worker's start is not part of the pipeline's time
    log(f"{label}: creating {count} tasks")
    started = time.monotonic()
    tasks = queue_tasks(scene, count)
    ids = [task.pk for task in tasks]
    timeout_s = 600 + count * 1.5
    while LipSyncTask.objects.filter(pk__in=ids).exclude(status__in=FINAL_STATUSES).exists():
        if time.monotonic() - started > timeout_s:
            break
        time.sleep(1)
    wall_s = time.monotonic() - started
    cpu_s = celery.worker_cpu_s()
    celery.stop()
    return summarise(ids, wall_s, cpu_s, engine_calls(sim) - calls_before, sim)


def engine_calls(sim) -> int:
    """Every API call the simulator counted, face identification aside."""
    calls = sim.sim.store.stats()["calls"]
    return sum(n for endpoint, n in calls.items() if "identify" not in endpoint.lower())


def summarise(ids: list, wall_s: float, cpu_s: float, sim_calls: int, sim) -> dict:
    from projects.models import ApiCall, LipSyncTask, TaskStatus

    tasks = list(LipSyncTask.objects.filter(pk__in=ids))
    count = len(tasks)
    creates = sim.sim.store.stats()["creates"]
    gets = ApiCall.objects.filter(task__in=ids, method="GET").count()
    implied = implied_polls(tasks, sim)
    return {
        "tasks": count,
        "succeeded": sum(task.status == TaskStatus.SUCCEED for task in tasks),
        "wall_s": round(wall_s, 1),
        "tasks_per_s": round(count / wall_s, 2),
        "engine_calls_per_task": round(sim_calls / count, 2),
        "api_call_rows_per_task": round(ApiCall.objects.filter(task__in=ids).count() / count, 2),
        "engine_gets_per_task": round(gets / count, 2),  # polls and hint refreshes
        "implied_polls_per_task": round(implied / count, 2),
        "max_creates_per_task": max(creates.get(task.external_task_id, 0) for task in tasks),
        "callbacks_sent": sum(
            sim.sim.store.callbacks_sent.get(task.engine_task_id, 0) for task in tasks
        ),
        "worker_cpu_s": round(cpu_s, 1),
        "worker_cpu_ms_per_task": round(cpu_s * 1000 / count, 1),
    }


def implied_polls(tasks: list, sim) -> int:
    """The polls the schedule needs to see each task finished, from when the engine finished.

    Polls come at 5, 15, 35, 75, 135 s … after the create; a task done at the engine at t
    is seen by the first poll at or after t. Late polls (a busy worker) only need fewer.
    """
    finished_ms = {
        engine_task.external_task_id: engine_task.updated_ms
        for engine_task in list(sim.sim.store.tasks.values())
    }
    total = 0
    for task in tasks:
        if task.submitted_at is None or task.external_task_id not in finished_ms:
            continue
        done_after_s = finished_ms[task.external_task_id] / 1000 - task.submitted_at.timestamp()
        total += polls_to_reach(done_after_s)
    return total


def polls_to_reach(seconds: float) -> int:
    elapsed, polls = 0.0, 0
    while elapsed < seconds:
        interval = POLL_SCHEDULE_S[min(polls, len(POLL_SCHEDULE_S) - 1)]
        elapsed += interval
        polls += 1
    return max(1, polls)


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    from projects.engines.simulator import SimulatorConfig, start

    # run_all.py stops an overlong benchmark with SIGTERM: clean up (database, processes) then.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(1))
    count = task_count()
    var_dir = fresh_var_dir("pipeline")
    media_dir = var_dir / "inputs"
    media_dir.mkdir()
    sim = start(
        SimulatorConfig(
            port=0,
            access_key=ACCESS_KEY,
            secret_key=SECRET_KEY,
            task_seconds=SIM_TASK_SECONDS,
            concurrency=count + 10,
            files_dir=var_dir / "sim",
        )
    )
    database_url, broker_url = database_and_broker()
    web_port = free_port()
    env = {
        **app_environment(var_dir, database_url),
        "CELERY_BROKER_URL": broker_url,
        "LIPSYNC_ENGINE": "kling",
        "KLING_BASE_URL": sim.url,
        "KLING_ACCESS_KEY": ACCESS_KEY,
        "KLING_SECRET_KEY": SECRET_KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{web_port}",
        "LIPSYNC_FETCH_ALLOWED_PRIVATE_HOSTS": "127.0.0.1",
        "LIPSYNC_POLL_INTERVALS_S": ",".join(map(str, POLL_SCHEDULE_S)),
        "LIPSYNC_MAX_CONCURRENT": str(count + 10),
        "LIPSYNC_RECONCILE_EVERY_S": "10",
    }
    web = None
    try:
        setup_django(env)
        web = Gunicorn(env, workers=2, port=web_port, extra_args=["--threads", "8"]).start()
        web_cpu_before = tree_cpu_s(web.process.pid)
        scene = make_scene(media_dir)
        # Every result is a copy of the input video: the engine's rendering is not measured.
        sim.sim.runner.prerendered_result = Path(scene.video.file.path)
        with_callbacks = run("with callbacks", scene, count, env, var_dir, sim)
        with_callbacks["web_cpu_s"] = round(tree_cpu_s(web.process.pid) - web_cpu_before, 1)
        polling_only = run(
            "polling only", scene, count, {**env, "PUBLIC_BASE_URL": ""}, var_dir, sim
        )
    finally:
        if web is not None:
            web.stop()
        sim.stop()
        from django.db import connections

        connections.close_all()
        drop_database(database_url)
        shutil.rmtree(var_dir, ignore_errors=True)
    met = (
        with_callbacks["succeeded"] == polling_only["succeeded"] == count
        and with_callbacks["max_creates_per_task"] == polling_only["max_creates_per_task"] == 1
        and with_callbacks["engine_calls_per_task"] < TARGET_CALLS_WITH_CALLBACKS
        and polling_only["engine_calls_per_task"] <= 1 + polling_only["implied_polls_per_task"]
    )
    report(
        "pipeline",
        {
            "database": "postgresql" if database_url else "sqlite",
            "broker": broker_url.split(":", 1)[0],
            "sim_task_seconds": SIM_TASK_SECONDS,
            "worker_concurrency": WORKER_CONCURRENCY,
            "with_callbacks": with_callbacks,
            "polling_only": polling_only,
        },
        f"{count} tasks all succeed, each created once; < {TARGET_CALLS_WITH_CALLBACKS} engine "
        "calls per task with callbacks; without, no more than 1 create plus the polls the "
        f"schedule {POLL_SCHEDULE_S} s implies",
        met,
    )


if __name__ == "__main__":
    main()
