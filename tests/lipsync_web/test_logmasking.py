"""Callback and media-link tokens never reach a log: a real gunicorn, started as `make run` does.

The web command is runstack's own, so the test follows what `make run` serves. A task and a
media link are committed to the test database, the three addresses an engine uses are called
(a callback, a malformed callback that Django logs as "Bad Request", a media download), and the
server's whole output (access log and app log) is searched for the secrets.
"""

from __future__ import annotations

import os
import socket
import subprocess

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from lipsync_web.logmasking import MASK, mask_secrets
from projects import serving
from projects.management.commands.runstack import stack_commands
from projects.models import LipSyncTask, SourceVideo, TaskStatus
from tests.support.workers import ROOT, database_url_for_tests, wait_until

SOME_TOKEN = "Zm9vYmFyYmF6cXV4LWtleS0xMjM0NTY3ODkwYWJjZGVm"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        (
            f'"POST /hooks/engine/0b9f/{SOME_TOKEN}/ HTTP/1.1" 200',
            f'"POST /hooks/engine/0b9f/{MASK}/ HTTP/1.1" 200',
        ),
        (f"GET /hooks/media/{SOME_TOKEN}/?x=1", f"GET /hooks/media/{MASK}/?x=1"),
        ("GET /hooks/media/ab%3A12%3Acd/", f"GET /hooks/media/{MASK}/"),
        ("Bad Request: /hooks/engine/1/tok", f"Bad Request: /hooks/engine/1/{MASK}"),
        ("GET /videos/3/files/file/ HTTP/1.1", "GET /videos/3/files/file/ HTTP/1.1"),
    ],
)
def test_mask_secrets_hides_the_token_segment_only(line, masked):
    assert mask_secrets(line) == masked


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_gunicorn_logs_hook_addresses_with_the_tokens_masked(project, users, _media_root, tmp_path):
    editor = users["editor"]
    video = SourceVideo.objects.create(project=project, original_name="v.mp4", created_by=editor)
    task = LipSyncTask.objects.create(
        project=project, video=video, kind="basic", engine="kling",
        status=TaskStatus.SUCCEED, created_by=editor,
    )  # fmt: skip
    stored = type("Stored", (), {"name": default_storage.save("v/clip.mp4", ContentFile(b"x"))})
    media_path = serving.signed_media_url(stored, "video/mp4")
    media_token = media_path.rstrip("/").rsplit("/", 1)[-1]
    callback_path = reverse("projects:engine-callback", args=[task.pk, task.callback_token])

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DATABASE_URL": database_url_for_tests(), "MEDIA_ROOT": str(_media_root)}
    output = tmp_path / "web.log"
    with output.open("wb") as log:
        web = subprocess.Popen(
            stack_commands(port)["web"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(lambda: _answers(base), timeout_s=60, what="gunicorn to answer")
            assert (
                httpx.post(base + callback_path, json={"task_status": "succeed"}).status_code == 200
            )
            assert httpx.post(base + callback_path, content=b"not json").status_code == 400
            assert httpx.get(base + media_path).content == b"x"
        finally:
            web.terminate()
            web.wait(timeout=30)
    logged = output.read_text()
    assert task.callback_token not in logged
    assert media_token not in logged
    assert logged.count(f"/hooks/engine/{task.pk}/{MASK}/") >= 3, logged  # 2 access, 1 app line
    assert f"/hooks/media/{MASK}/" in logged
    assert f"Bad Request: /hooks/engine/{task.pk}/{MASK}/" in logged


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False
