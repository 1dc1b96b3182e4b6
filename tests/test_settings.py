"""Settings come from the environment and fail loudly, naming the variable."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    ours = ("DJANGO", "LIPSYNC", "KLING", "AWS", "DATABASE_URL", "CELERY", "SECRET_KEY", "DEBUG")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    clean.update({"LIPSYNC_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "lipsync.example.com",
    "PUBLIC_BASE_URL": "https://lipsync.example.com",
    "DATABASE_URL": "postgres://lipsync@db.internal:5432/lipsync",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "LIPSYNC_ENGINE": "kling",
    "KLING_ACCESS_KEY": "ak-example",
    "KLING_SECRET_KEY": "sk-example",
    "AWS_STORAGE_BUCKET_NAME": "lipsync-media",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.com",
}


def test_deploy_check_passes_with_production_values(tmp_path):
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_deploy_check_fails_without_tls_settings(tmp_path):
    insecure = {**PRODUCTION, "PUBLIC_BASE_URL": "http://lipsync.example.com"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=insecure, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "SECURE_HSTS_SECONDS" in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEBUG": "false"}, "SECRET_KEY"),
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DEBUG": "true", "LIPSYNC_ENGINE": "magic"}, "LIPSYNC_ENGINE"),
        ({"DEBUG": "true", "DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DEBUG": "true", "CELERY_BROKER_URL": "kafka://x"}, "CELERY_BROKER_URL"),
        ({"DEBUG": "true", "PUBLIC_BASE_URL": "ftp://example.com"}, "PUBLIC_BASE_URL"),
        ({"DEBUG": "true", "LIPSYNC_MAX_CONCURRENT": "lots"}, "LIPSYNC_MAX_CONCURRENT"),
        ({"DEBUG": "true", "LIPSYNC_ENGINE": "kling"}, "KLING_ACCESS_KEY"),
        ({"DEBUG": "true", "LIPSYNC_ENGINE": "proxy"}, "LIPSYNC_PROXY_TOKEN"),
        ({"DEBUG": "true", "KLING_BASE_URL": "api.klingai.com"}, "KLING_BASE_URL"),
    ],
)
def test_wrong_value_fails_at_start_naming_the_variable(env, named, tmp_path):
    result = manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("Configuration error:")
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_need_no_services(tmp_path):
    result = manage("check", env={"DEBUG": "true"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
