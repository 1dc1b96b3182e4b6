"""A task's life: submitted -> processing -> succeed | failed, with a callback at each step."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from projects.engines.simulator import work
from projects.engines.simulator.errors import CONTENT_POLICY_MESSAGE
from projects.engines.simulator.faults import FaultPlan
from projects.engines.simulator.payloads import callback_body
from projects.engines.simulator.state import ResultFile, SimTask, Store
from projects.engines.simulator.validation import duration_text

log = logging.getLogger(__name__)

SUBMITTED_SHARE = 0.25  # the part of a task's time it spends queued before processing
CALLBACK_TIMEOUT_S = 5


@dataclass
class TaskRunner:
    store: Store
    faults: FaultPlan
    files_dir: Path
    public_url: str
    task_seconds: float
    prerendered_result: Path | None = None

    def start(self, task: SimTask) -> None:
        thread = threading.Thread(target=self.run, args=(task,), daemon=True)
        thread.name = f"sim-task-{task.task_id}"
        thread.start()

    def run(self, task: SimTask) -> None:
        started = time.monotonic()
        self.notify(task)
        time.sleep(self.task_seconds * SUBMITTED_SHARE)
        self.store.move(task, "processing")
        self.notify(task)
        outcome = self._outcome(task)
        # The task takes at least its configured time, however fast the rendering was.
        time.sleep(max(0.0, self.task_seconds - (time.monotonic() - started)))
        self._finish(task, outcome)
        self.notify(task)

    def _outcome(self, task: SimTask) -> work.Rendered | str:
        """The rendered files, or the reason the task fails."""
        if task.fail_with_policy:
            return CONTENT_POLICY_MESSAGE
        try:
            if self.prerendered_result is not None:
                return work.copy_prerendered(
                    self.prerendered_result, task.job, self.files_dir, f"result-{task.task_id}"
                )
            return work.render(task.job, self.files_dir, f"result-{task.task_id}")
        except work.NoFaceError as error:
            return str(error)
        except Exception as error:  # a failed render is a failed task, whatever the cause
            log.exception("Rendering task %s failed", task.task_id)
            return f"Video generation failed: {error}"

    def _finish(self, task: SimTask, outcome: work.Rendered | str) -> None:
        if isinstance(outcome, str):
            self.store.move(task, "failed", outcome)
            return
        video_id = self.store.new_id()
        self.store.add_file(
            ResultFile(video_id=video_id, path=outcome.path, created_s=self.store.clock.now_s())
        )
        video = {
            "id": video_id,
            "url": self.file_url(outcome.path),
            "duration": duration_text(outcome.duration_ms),
        }
        if outcome.watermark_path is not None:
            video["watermark_url"] = self.file_url(outcome.watermark_path)
        task.videos = [video]
        task.units = outcome.units
        self.store.move(task, "succeed", "")

    def file_url(self, path: Path) -> str:
        return f"{self.public_url}/files/{path.name}"

    def notify(self, task: SimTask) -> None:
        """POST the task's state to its callback_url: sent, lost or doubled as the faults say."""
        if not task.callback_url or self.faults.take("drop-callback"):
            return
        copies = 2 if self.faults.take("dup-callback") else 1
        body = json.dumps(callback_body(task)).encode()
        for _ in range(copies):
            self._post(task, body)

    def _post(self, task: SimTask, body: bytes) -> None:
        request = urllib.request.Request(  # noqa: S310 (the caller chose the URL; it is checked)
            task.callback_url,
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        self.store.count_callback(task.task_id)
        try:
            with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_S):  # noqa: S310
                pass
        except OSError as error:
            # Kling does not tell the caller when its callback fails; neither does the simulator.
            log.info(
                "Callback for task %s to %s failed: %s", task.task_id, task.callback_url, error
            )
