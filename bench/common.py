"""Shared pieces of the benchmarks that run the app: a fresh var folder, Django set up against
it, gunicorn on loopback, a logged-in session cookie, and the one-JSON-object report.

A benchmark imports this module first (it puts the project root on the path).
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / "bench"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BENCH_SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789abcdef"  # noqa: S105


def report(name: str, figures: dict, target: str, met: bool) -> None:
    """The one line a benchmark prints on stdout; run_all.py reads it."""
    print(json.dumps({"name": name, "figures": figures, "target": target, "met": bool(met)}))


def quick_mode(argv: list[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--quick" in argv or os.environ.get("BENCH_QUICK") == "1"


def log(message: str) -> None:
    """Progress for the person watching; stdout is kept for the JSON report."""
    print(message, file=sys.stderr, flush=True)


def fresh_var_dir(label: str) -> Path:
    """A new folder for one run's database, media and logs; removed at exit (it can hold GBs)."""
    base = ROOT / "var" / "bench"
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=base))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def app_environment(var_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """Production-like settings (DEBUG off) on this machine, everything under `var_dir`."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": BENCH_SECRET_KEY,
        "LIPSYNC_VAR_DIR": str(var_dir),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LIPSYNC_ENGINE": "local",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process against the benchmark's database, and migrate it."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "lipsync_web.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    # DEBUG is off, as in production: pages need the hashed static files' manifest.
    call_command("collectstatic", interactive=False, verbosity=0)


def session_cookie_for(user) -> str:
    """A session for `user` made the way login() makes one, without a login request."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = _backend_that_loads_users(settings.AUTHENTICATION_BACKENDS)
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def _backend_that_loads_users(backends: list[str]) -> str:
    """The first backend a session can name: axes' comes first but only checks logins."""
    from django.utils.module_loading import import_string

    return next(path for path in backends if hasattr(import_string(path), "get_user"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Gunicorn:
    """gunicorn serving the app on a loopback port; stopped (and waited for) by `stop()`."""

    env: dict[str, str]
    workers: int = 2
    extra_args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60) -> Gunicorn:
        command = [
            sys.executable, "-m", "gunicorn", "lipsync_web.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
            "--timeout", "300", "--log-level", "warning", *self.extra_args,
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env=self.env)
        self._wait_until_healthy(timeout_s)
        return self

    def worker_pids(self) -> list[int]:
        import psutil

        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _wait_until_healthy(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}")
            try:
                health = f"{self.base_url}/healthz"  # our own loopback server
                with urllib.request.urlopen(health, timeout=2) as answer:  # noqa: S310
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
