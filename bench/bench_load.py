"""Load: the task-status partial and the project page under gunicorn, driven by locust.

A fresh SQLite database (or PostgreSQL with `--postgres`) is migrated, and a project with 200
tasks in every state is created through the ORM. gunicorn serves the app on loopback; locust
runs headless with users logged in by session cookie, each at a steady rate, so the offered load
is fixed and the figures say whether the app keeps up with it and how fast it answers.

Targets: the status partial serves >= 300 requests/s at p95 <= 100 ms; the project page >= 50
requests/s. Prints one JSON object.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from common import (
    ROOT,
    Gunicorn,
    app_environment,
    fresh_var_dir,
    log,
    quick_mode,
    report,
    session_cookie_for,
    setup_django,
)

TASK_COUNT = 200
STATUS_TARGET_RPS, STATUS_TARGET_P95_MS = 300, 100
PROJECT_TARGET_RPS = 50
# Offered load a little above each target, spread over enough users to keep requests in flight.
STATUS_USERS, STATUS_USER_RPS = 40, 8.0
PROJECT_USERS, PROJECT_USER_RPS = 12, 5.0
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "3"))


def create_project_with_tasks() -> tuple[str, str, list[str]]:
    """A project with one video, one clip, one face and 200 tasks; returns cookie, URL, ids."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from projects import services
    from projects.models import (
        AudioClip,
        DetectedFace,
        LipSyncTask,
        MediaStatus,
        SourceVideo,
        TaskStatus,
    )

    user = get_user_model().objects.create_user("loadtester")  # logs in by session cookie
    project = services.create_project(name="Load test", owner=user)
    video = SourceVideo.objects.create(
        project=project,
        original_name="interview.mp4",
        created_by=user,
        status=MediaStatus.READY,
        duration_ms=10_000,
        width=1280,
        height=720,
    )
    audio = AudioClip.objects.create(
        project=project,
        source="upload",
        original_name="line.wav",
        created_by=user,
        status=MediaStatus.READY,
        duration_ms=4_000,
    )
    face = DetectedFace.objects.create(
        video=video,
        engine="local",
        session_id="s1",
        session_expires_at=timezone.now() + timedelta(hours=24),
        engine_face_id="0",
        start_ms=0,
        end_ms=10_000,
    )
    statuses = [
        TaskStatus.QUEUED,
        TaskStatus.SUBMITTED,
        TaskStatus.PROCESSING,
        TaskStatus.SUCCEED,
        TaskStatus.FAILED,
    ]
    tasks = [
        LipSyncTask(
            project=project,
            video=video,
            face=face,
            audio=audio,
            sound_end_ms=3_000,
            engine="local",
            external_task_id=f"load-{index}",
            status=statuses[index % len(statuses)],
            status_message="The engine could not make this video." if index % 5 == 4 else "",
            created_by=user,
        )
        for index in range(TASK_COUNT)
    ]
    LipSyncTask.objects.bulk_create(tasks)
    ids = [str(pk) for pk in LipSyncTask.objects.values_list("pk", flat=True)]
    return session_cookie_for(user), project.get_absolute_url(), ids


def run_locust(base_url: str, env: dict, target: str, users: int, user_rps: float, seconds: int):
    out = Path(env["LOAD_OUT"]) / target
    command = [
        sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "locustfile_app.py"),
        "--headless", "--users", str(users), "--spawn-rate", str(users),
        "--run-time", f"{seconds}s", "--host", base_url, "--csv", str(out),
        "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5",
    ]  # fmt: skip
    run_env = {**env, "LOAD_TARGET": target, "LOAD_PER_USER_RPS": str(user_rps)}
    subprocess.run(command, env=run_env, check=False, stdout=subprocess.DEVNULL, timeout=600)
    return read_stats(Path(f"{out}_stats.csv"))


def read_stats(path: Path) -> dict:
    with path.open() as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows["Aggregated"]
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": round(float(row["Requests/s"]), 1),
        "p50_ms": float(row["50%"]),
        "p95_ms": float(row["95%"]),
        "p99_ms": float(row["99%"]),
    }


def main() -> None:
    quick = quick_mode()
    seconds = 10 if quick else 30
    var_dir = fresh_var_dir("load")
    database_url = None
    if "--postgres" in sys.argv:
        database_url = f"postgres://postgres@127.0.0.1:5432/lipsync_bench_{os.getpid()}"
        _create_postgres_database(database_url)
    env = app_environment(var_dir, database_url)
    setup_django(env)
    cookie, project_url, ids = create_project_with_tasks()
    tasks_file = var_dir / "tasks.json"
    tasks_file.write_text(json.dumps(ids))
    locust_env = {
        **env,
        "LOAD_SESSION": cookie,
        "LOAD_TASKS_FILE": str(tasks_file),
        "LOAD_PROJECT_URL": project_url,
        "LOAD_OUT": str(var_dir),
    }
    load_before = os.getloadavg()[0]
    server = Gunicorn(env, workers=WORKERS).start()
    try:
        log(f"load: status partial, {STATUS_USERS} users × {STATUS_USER_RPS}/s for {seconds} s")
        status = run_locust(
            server.base_url, locust_env, "status", STATUS_USERS, STATUS_USER_RPS, seconds
        )
        log(f"load: project page, {PROJECT_USERS} users × {PROJECT_USER_RPS}/s for {seconds} s")
        page = run_locust(
            server.base_url, locust_env, "project", PROJECT_USERS, PROJECT_USER_RPS, seconds
        )
    finally:
        server.stop()
    met = (
        status["rps"] >= STATUS_TARGET_RPS
        and status["p95_ms"] <= STATUS_TARGET_P95_MS
        and status["failures"] == 0
        and page["rps"] >= PROJECT_TARGET_RPS
        and page["failures"] == 0
    )
    report(
        "load",
        {
            "task_status_partial": status,
            "project_page": {**page, "tasks_listed": TASK_COUNT},
            "gunicorn_workers": WORKERS,
            "database": "postgresql" if database_url else "sqlite",
            "seconds_per_run": seconds,
            # Other work on this shared machine takes cores from gunicorn and locust alike.
            "load_average_1m_before": round(load_before, 2),
            "cpu_count": os.cpu_count(),
        },
        f"task-status partial >= {STATUS_TARGET_RPS} req/s at p95 <= {STATUS_TARGET_P95_MS} ms; "
        f"project page (200 tasks) >= {PROJECT_TARGET_RPS} req/s; no failed request",
        met,
    )


def _create_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
        check=True,
        capture_output=True,
    )


if __name__ == "__main__":
    main()
