"""Settings come from the environment and fail loudly, naming the variable."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


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
        ({"DEBUG": "true", "LIPSYNC_RETRY_BACKOFF_S": "300,5"}, "LIPSYNC_RETRY_BACKOFF_S"),
        ({"DEBUG": "true", "LIPSYNC_RETRY_BACKOFF_S": "soon"}, "LIPSYNC_RETRY_BACKOFF_S"),
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


# The specifiers of `import … from "x"`, `import "x"`, `export … from "x"` and `import("x")`.
MODULE_SPECIFIER = re.compile(
    r"""\b(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']"""
    r"""|\bimport\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)"""
)
COMMENT = re.compile(r"/\*.*?\*/|^\s*//[^\n]*", re.DOTALL | re.MULTILINE)


def relative_imports(text: str) -> set[str]:
    found = {next(group for group in m.groups() if group) for m in MODULE_SPECIFIER.finditer(text)}
    return {spec for spec in found if spec.startswith(("./", "../"))}


def test_production_static_files_import_each_other_by_their_hashed_names(tmp_path):
    """collectstatic with the production settings: every module import names a hashed file."""
    result = manage("collectstatic", "--noinput", env=PRODUCTION, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    static_root = tmp_path / "static"
    manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
    hashed = set(manifest.values())

    # Follow the imports from the page's entry module, as a browser would.
    reached, waiting, imports = set(), [manifest["js/timeline/main.js"]], 0
    while waiting:
        name = waiting.pop()
        if name in reached:
            continue
        reached.add(name)
        text = (static_root / name).read_text()
        # The name's hash is its content's, imports included: a change in an imported module
        # renames every module that imports it, up to the entry.
        assert (
            name.split(".")[-2]
            == hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:12]
        ), name
        for spec in relative_imports(COMMENT.sub("", text)):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), spec))
            assert target in hashed, f"{name} imports {spec}, which is not a hashed file"
            assert (static_root / target).is_file(), target
            waiting.append(target)
            imports += 1

    sources = Path(ROOT, "static", "js", "timeline").glob("*.js")
    modules = {f"js/timeline/{path.name}" for path in sources} | {"js/rules.js"}
    assert {re.sub(r"\.[0-9a-f]{12}\.js$", ".js", name) for name in reached} == modules
    assert imports >= len(modules) - 1


def test_the_tls_redirect_goes_to_our_public_host(tmp_path):
    """Not to the Host a request names: the redirect then never reads that header."""
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.SECURE_SSL_HOST)",
        env=PRODUCTION,
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "lipsync.example.com"
