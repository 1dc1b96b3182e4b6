"""Locust users for bench_load.py: staff members watching a task's status, or a project page.

Configured by environment (bench_load.py sets it): LOAD_TARGET ("status", "project" or "bare"),
LOAD_SESSION (a session cookie), LOAD_TASKS_FILE (JSON list of task ids), LOAD_PROJECT_URL and
LOAD_PER_USER_RPS (each user's steady request rate).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

TARGET = os.environ.get("LOAD_TARGET", "status")
TASK_IDS: list[str] = json.loads(Path(os.environ["LOAD_TASKS_FILE"]).read_text())
PROJECT_URL = os.environ.get("LOAD_PROJECT_URL", "/projects/")
HTMX_STOP_POLLING = 286


PER_USER_RPS = float(os.environ.get("LOAD_PER_USER_RPS", "10"))


class StaffMember(FastHttpUser):
    wait_time = constant_throughput(PER_USER_RPS)

    def on_start(self) -> None:
        self.cookie = {"Cookie": f"sessionid={os.environ['LOAD_SESSION']}"}
        # Users all start within a second and each keeps its own beat: unstaggered, they would
        # all ask at the same instant, again and again, and a steady rate would arrive in bursts.
        time.sleep(random.random() / PER_USER_RPS)  # gevent's sleep under locust

    @task
    def look(self) -> None:
        if TARGET == "status":
            # What htmx polls every few seconds on a task page.
            task_id = random.choice(TASK_IDS)
            with self.client.get(
                f"/tasks/{task_id}/status/",
                name="/tasks/[id]/status/",
                headers={**self.cookie, "HX-Request": "true", "HX-Target": "task-status"},
                catch_response=True,
            ) as response:
                # 286 is htmx's "stop polling": the answer for a finished task.
                if response.status_code in (200, HTMX_STOP_POLLING):
                    response.success()
                else:
                    response.failure(f"status {response.status_code}")
        elif TARGET == "bare":
            # The ceiling: a fixed answer through the same middleware, with the same cookie.
            self.client.get("/bench/bare/", name="/bench/bare/", headers=self.cookie)
        else:
            self.client.get(PROJECT_URL, name="/projects/[id]/", headers=self.cookie)
