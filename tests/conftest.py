"""Shared fixtures: personas (owner, editor, reviewer, outsider, anonymous, staff) and a project."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest
from django.test import Client

from projects.models import Membership, Project, Role
from projects.services import membership
from tests.support.personas import make_user

# Before the fixtures module imports it, so that its asserts are rewritten too.
pytest.register_assert_rewrite("tests.support.simulator")
pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Every test writes media into its own folder, so leftovers are easy to see."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "media"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.WHITENOISE_USE_FINDERS = True
    # Fast hashing: the tests create many users; production keeps Django's default.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path / "media"


@pytest.fixture
def users(db) -> dict:
    return {name: make_user(name) for name in ("owner", "editor", "reviewer", "outsider")}


@pytest.fixture
def project(users) -> Project:
    project = membership.create_project(name="Harbour documentary", owner=users["owner"])
    Membership.objects.create(project=project, user=users["editor"], role=Role.EDITOR)
    Membership.objects.create(project=project, user=users["reviewer"], role=Role.REVIEWER)
    return project


@pytest.fixture
def clients(users) -> dict[str, Client]:
    """One logged-in client per persona, plus an anonymous one."""
    result = {"anonymous": Client()}
    for name, user in users.items():
        client = Client()
        client.force_login(user)
        result[name] = client
    return result


def service_reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what this run does not include
def pytest_collection_modifyitems(config, items) -> None:
    """The integration tier needs PostgreSQL and Redis: skip without them, fail in CI."""
    integration = [item for item in items if item.get_closest_marker("integration")]
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        integration = items  # this run is the PostgreSQL tier: every test needs the services
    if not integration:
        return
    missing = []
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if not database_url.startswith("postgres") or not service_reachable(database_url, 5432):
        missing.append(f"PostgreSQL (DATABASE_URL={database_url or 'unset'})")
    if not broker_url.startswith("redis") or not service_reachable(broker_url, 6379):
        missing.append(f"Redis (CELERY_BROKER_URL={broker_url or 'unset'})")
    if not missing:
        return
    reason = "integration tier needs " + " and ".join(missing)
    if os.environ.get("CI") == "true":
        raise pytest.UsageError(reason + ": it is required when CI=true")
    for item in integration:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def celery_eager():
    """Run Celery tasks in this process when they are sent (Celery's own eager mode)."""
    from lipsync_web.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False
