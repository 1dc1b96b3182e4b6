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

# The access log shows callback and media-link tokens as *** (see lipsync_web/logmasking.py).
WEB_LOGGER = "lipsync_web.logmasking.MaskingGunicornLogger"


def stack_commands(port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [
            python, "-m", "gunicorn", "lipsync_web.wsgi",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
            "--worker-class", "gthread", "--timeout", "120", "--access-logfile", "-",
            "--logger-class", WEB_LOGGER,
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


def child_environment(port: int, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The processes' environment: with a remote engine and no PUBLIC_BASE_URL, this machine's
    loopback address on `port`, where a simulator on the same machine fetches our media and
    calls us back (a real engine on the internet needs PUBLIC_BASE_URL set to a public address).
    """
    env = dict(os.environ if environ is None else environ)
    engine = env.get("LIPSYNC_ENGINE") or "local"
    if engine != "local" and not env.get("PUBLIC_BASE_URL"):
        env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{port}"
    return env


class Command(BaseCommand):
    help = "Serve the app with a Celery worker and beat; Ctrl-C stops every process."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 8000))

    def handle(self, *args: object, port: int, **options: object) -> None:
        (settings.VAR_DIR / "celery").mkdir(parents=True, exist_ok=True)
        env = child_environment(port)
        children = {
            name: subprocess.Popen(command, start_new_session=True, env=env)  # noqa: S603
            for name, command in stack_commands(port).items()
        }
        self.stdout.write(self.style.SUCCESS(f"Serving http://127.0.0.1:{port}/ (Ctrl-C to stop)"))
        if env.get("PUBLIC_BASE_URL") and not os.environ.get("PUBLIC_BASE_URL"):
            self.stdout.write(f"The engine reaches this app at {env['PUBLIC_BASE_URL']}")
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
