"""Deleting and renaming videos, audio clips and tasks (with a confirmation), archiving a
project. Files leave storage with their rows; the audit trail keeps who deleted what, by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from projects.models import AuditEvent, AuditVerb, LipSyncTask, SourceVideo, TaskStatus
from tests.support.browser import log_in, screenshot
from tests.support.reviewing import finish

pytestmark = pytest.mark.django_db(transaction=True)


def stored(field_file) -> Path:
    return Path(field_file.path)


def test_rename_and_delete_a_clip_a_task_then_the_video(page, users, project, face_video, speech):
    editor = users["editor"]
    task = LipSyncTask.objects.create(
        project=project,
        video=face_video,
        face=face_video.faces.first(),
        audio=speech,
        sound_end_ms=3_000,
        sound_insert_ms=500,
        engine="local",
        created_by=editor,
    )
    task.result_file.save("r.mp4", ContentFile(b"result"), save=True)
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.PROCESSING)
    video_files = [stored(face_video.file), stored(face_video.poster)]
    video_files += [stored(face.thumbnail) for face in face_video.faces.all()]
    clip_file, result_file = stored(speech.file), stored(task.result_file)
    log_in(page, "editor")

    # A task at the engine cannot be deleted until it ends.
    page.goto(task.get_absolute_url())
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("It is at the engine now")
    expect(page.get_by_role("button", name="Delete it")).to_have_count(0)

    # Rename it; then, once it has ended, delete it with its result.
    page.goto(task.get_absolute_url())
    page.get_by_text("Rename").click()
    page.get_by_label("New name").fill("Harbour intro, take 2")
    page.get_by_role("button", name="Save the name").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour intro, take 2")
    finish(task)
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Delete the task “Harbour intro, take 2”?"
    )
    screenshot(page, "confirm-delete")
    page.get_by_role("button", name="Delete it").click()
    expect(page.locator("#messages")).to_contain_text("Deleted the task “Harbour intro, take 2”.")
    assert not LipSyncTask.objects.filter(pk=task.pk).exists()
    assert not result_file.exists()

    # The clip: renamed in its row, then deleted after a confirmation.
    row = page.locator(f"#audio-{speech.pk}")
    row.get_by_text("Rename").click()
    row.get_by_label("New name").fill("Welcome line.wav")
    row.get_by_role("button", name="Save the name").click()
    expect(page.locator(f"#audio-{speech.pk}")).to_contain_text("Welcome line.wav")
    page.locator(f"#audio-{speech.pk}").get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete it").click()
    expect(page.locator(f"#audio-{speech.pk}")).to_have_count(0)
    assert not clip_file.exists()

    # The video, now that no task uses it: its file, poster and face pictures go too.
    page.goto(face_video.get_absolute_url())
    page.get_by_role("link", name="Delete").click()
    page.get_by_role("button", name="Delete it").click()
    expect(page.locator("#messages")).to_contain_text("Deleted the video “presenter.mp4”.")
    assert not SourceVideo.objects.filter(pk=face_video.pk).exists()
    assert [path for path in video_files if path.exists()] == []

    deleted = AuditEvent.objects.filter(verb=AuditVerb.DELETED).order_by("created_at")
    assert [(event.actor, event.note) for event in deleted] == [
        (editor, "the task “Harbour intro, take 2”"),
        (editor, "the audio clip “Welcome line.wav”"),
        (editor, "the video “presenter.mp4”"),
    ]
    assert page.js_errors == []


def test_a_video_in_use_is_not_deleted(page, users, project, face_video, speech):
    LipSyncTask.objects.create(
        project=project, video=face_video, audio=speech, sound_end_ms=3_000, engine="local",
        created_by=users["editor"], status=TaskStatus.FAILED,
    )  # fmt: skip
    log_in(page, "editor")
    page.goto(face_video.get_absolute_url())
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("1 lip-sync task uses it: delete it first.")
    expect(page.get_by_role("button", name="Delete it")).to_have_count(0)


def test_archive_and_restore_a_project(page, users, project):
    log_in(page, "owner")
    page.goto(project.get_absolute_url())
    page.get_by_role("button", name="Archive project").click()
    expect(page.locator("#messages")).to_contain_text("is archived")
    expect(page.locator("#projects-heading ~ ul")).to_have_count(0)
    page.get_by_role("link", name="Archived projects (1)").click()
    page.get_by_role("link", name=project.name).click()
    expect(page.locator(".archived-notice")).to_contain_text("hidden from the project list")
    page.get_by_role("button", name="Restore the project").click()
    page.goto("/projects/")
    expect(page.get_by_role("link", name=project.name)).to_be_visible()
    verbs = list(AuditEvent.objects.filter(project=project).values_list("verb", flat=True))
    assert AuditVerb.ARCHIVED in verbs and AuditVerb.RESTORED in verbs
