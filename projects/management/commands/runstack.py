"""Run the web server, a Celery worker and Celery beat together; Ctrl-C stops them all.

This is what `make run` starts on one machine. In production run the three processes under
your process manager instead (see README, "Running in production").
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


def _commands(port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [
            python, "-m", "gunicorn", "lipsync_web.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
            "--worker-class", "gthread", "--timeout", "120", "--access-logfile", "-",
        ],
        "worker": [
            python, "-m", "celery", "-A", "lipsync_web", "worker",
            "--loglevel", "INFO", "--concurrency", "2",
        ],
        "beat": [
            python, "-m", "celery", "-A", "lipsync_web", "beat",
            "--loglevel", "INFO", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ],
    }  # fmt: skip


class Command(BaseCommand):
    help = "Serve the app with a Celery worker and beat; Ctrl-C stops every process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))

    def handle(self, *args: object, port: int, **options: object) -> None:
        (settings.VAR_DIR / "celery").mkdir(parents=True, exist_ok=True)
        children = {
            name: subprocess.Popen(command, start_new_session=True)  # noqa: S603 (our own argv)
            for name, command in _commands(port).items()
        }
        self.stdout.write(self.style.SUCCESS(f"Serving http://127.0.0.1:{port}/ (Ctrl-C to stop)"))
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                dead = [name for name, child in children.items() if child.poll() is not None]
                if dead:
                    self.stderr.write(f"{', '.join(dead)} stopped; stopping the others.")
                    break
                time.sleep(0.5)
        finally:
            _stop_all(children.values())


def _stop_all(children: object) -> None:
    """Ask each process to stop (Celery finishes its current task), then force what lingers."""
    children = list(children)
    for child in children:
        if child.poll() is None:
            child.terminate()
    deadline = time.monotonic() + 20
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
