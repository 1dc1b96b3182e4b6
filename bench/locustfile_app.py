"""Locust users for bench_load.py: staff members watching a task's status, or a project page.

Configured by environment (bench_load.py sets it): LOAD_TARGET ("status", "status_full",
"project" or "bare"), LOAD_SESSION (a session cookie), LOAD_TASKS_FILE (the running tasks' ids,
and the address each one's page polls), LOAD_PROJECT_URL and LOAD_PER_USER_RPS (each user's
steady request rate).
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from pathlib import Path

from locust import FastHttpUser, constant_throughput, task

POLLING_ADDRESS = re.compile(r'id="task-status"[^>]*hx-get="([^"]+)"')

TARGET = os.environ.get("LOAD_TARGET", "status")
_TASKS = json.loads(Path(os.environ["LOAD_TASKS_FILE"]).read_text())
TASK_IDS: list[str] = _TASKS["ids"]  # the running tasks
POLLED: list[str] = _TASKS["polled"]  # each one's polling address once its page is open
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
            self.poll_as_the_page_does()
        elif TARGET == "status_full":
            self.poll(f"/tasks/{random.choice(TASK_IDS)}/status/", "/tasks/[id]/status/ (full)")
        elif TARGET == "bare":
            # The ceiling: a fixed answer through the same middleware, with the same cookie.
            self.client.get("/bench/bare/", name="/bench/bare/", headers=self.cookie)
        else:
            self.client.get(PROJECT_URL, name="/projects/[id]/", headers=self.cookie)

    def poll_as_the_page_does(self) -> None:
        """A task page polls the address its last full answer gave (with the "seen" mark):
        "nothing new" while the task is unchanged, in full after a change. Its first answer
        came with the page, so the user starts from the address that page gave."""
        if not getattr(self, "address", None):
            self.address = random.choice(POLLED)
        body = self.poll(self.address, "/tasks/[id]/status/?seen=")
        found = POLLING_ADDRESS.search(body or "")
        if found:
            self.address = found.group(1).replace("&amp;", "&")

    def poll(self, address: str, name: str) -> str | None:
        """One poll, as htmx sends it; the body of a full answer, None otherwise."""
        with self.client.get(
            address,
            name=name,
            headers={**self.cookie, "HX-Request": "true", "HX-Target": "task-status"},
            catch_response=True,
        ) as response:
            # 204: nothing new; 286: htmx's "stop polling", the answer for a finished task.
            if response.status_code in (200, 204, HTMX_STOP_POLLING):
                response.success()
                return response.text if response.status_code == 200 else None
            response.failure(f"status {response.status_code}")
            return None
