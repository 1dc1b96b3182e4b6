"""Finished tasks and staff for the review tests: the panel, the service, the notice."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.models import (
    LipSyncTask,
    TaskStatus,
)
from tests.support.objects import project_objects

TASKS_CHANGELIST = "admin:projects_lipsynctask_changelist"
QUEUE_CHANGELIST = "admin:projects_reviewqueuetask_changelist"


def finish(task: LipSyncTask, credits: str | None = "2.5", when: datetime | None = None):
    """Put `task` where the pipeline leaves it when the engine succeeded."""
    when = when or timezone.now()
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.SUCCEED,
        credits_charged=Decimal(credits) if credits is not None else None,
        finished_at=when,
        engine_task_id=f"engine-{str(task.pk)[:6]}",
    )
    task.refresh_from_db()
    return task


def another_task(task: LipSyncTask, **fields) -> LipSyncTask:
    """A sibling of `task` (same video and audio): a second take."""
    fresh = LipSyncTask.objects.create(
        project=task.project,
        video=task.video,
        audio=task.audio,
        face=task.face,
        sound_end_ms=3000,
        engine="local",
        created_by=task.created_by,
        **fields,
    )
    return fresh


@pytest.fixture
def staff(users):
    """Owner and reviewer open the review panel; the editor works in the app only."""
    for name in ("owner", "reviewer"):
        users[name].is_staff = True
        users[name].save(update_fields=["is_staff"])
    users["editor"].email = "editor@example.com"
    users["editor"].save(update_fields=["email"])
    return users


@pytest.fixture
def objects(project, staff):
    made = project_objects(project, staff["editor"])
    finish(made["task"])
    return made


@pytest.fixture
def task(objects) -> LipSyncTask:
    return objects["task"]


def panel(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(task: LipSyncTask, model: str = "lipsynctask") -> str:
    return reverse(f"admin:projects_{model}_review", args=[task.pk])


def change_url(task: LipSyncTask, model: str = "lipsynctask") -> str:
    return reverse(f"admin:projects_{model}_change", args=[task.pk])


def finished_task_with_media(
    project, user, folder: Path, *, insert_ms: int = 4_500, video_ms: int = 8_000
) -> LipSyncTask:
    """A finished task on real media: a probed source video, a speech clip and a result video
    of the same size and length (made here, not rendered: the pages under test only play it)."""
    from django.core.files import File

    from projects.engines.base import TaskKind
    from tests.support.fixtures import add_speech, add_video
    from tests.support.mediagen import make_video

    folder.mkdir(parents=True, exist_ok=True)
    size = {"width": 640, "height": 512, "duration_s": video_ms / 1000}
    source = make_video(folder / "interview.mp4", tone_hz=330.0, **size)
    result = make_video(folder / "result.mp4", pattern="solid", tone_hz=660.0, **size)
    video = add_video(project, user, source, identify=False)
    speech = add_speech(project, user, folder / "new line.wav", duration_ms=3_000)
    task = LipSyncTask(
        project=project,
        video=video,
        audio=speech,
        kind=TaskKind.ADVANCED,
        sound_end_ms=3_000,
        sound_insert_ms=insert_ms,
        engine="local",
        created_by=user,
    )
    with result.open("rb") as handle:
        task.result_file.save("result.mp4", File(handle), save=False)
    task.save()
    return finish(task)


OUTAGE_FAILURE = "Kling cannot be reached (connection failed). The task will be retried."
SIGNED_RESULT = "https://results.example/abc/result.mp4?X-Amz-Signature=deadbeef&X-Amz-Expires=3600"


def log_an_outage(task: LipSyncTask, *, failures: int = 95) -> None:
    """The engine log of a task sent through an outage: a face search, `failures` creates
    that could not connect, 2.5 s apart, the create that worked, a status check, and the
    engine's callback (its body holding a signed result link)."""
    from datetime import timedelta

    from django.utils import timezone

    from projects.models import ApiCall
    from projects.services import engines

    start = timezone.now().replace(hour=11, minute=2, second=10, microsecond=0)
    rows = [("POST", "/v1/videos/identify-face", 200, "0", "")]
    rows += [("POST", "/v1/videos/advanced-lip-sync", None, "", OUTAGE_FAILURE)] * failures
    rows += [
        ("POST", "/v1/videos/advanced-lip-sync", 200, "0", ""),
        ("GET", "/v1/videos/advanced-lip-sync/8623", 200, "0", ""),
    ]
    for index, (method, endpoint, status, code, error) in enumerate(rows):
        call = ApiCall.objects.create(
            task=task,
            engine="kling",
            method=method,
            endpoint=endpoint,
            http_status=status,
            business_code=code,
            error=error,
        )
        moment = start + timedelta(seconds=2.5 * max(0, index - 1))
        ApiCall.objects.filter(pk=call.pk).update(created_at=moment)
    body = '{"task_id": "8623", "task_status": "succeed", "url": "' + SIGNED_RESULT + '"}'
    engines.record_callback(task, body, 200)
