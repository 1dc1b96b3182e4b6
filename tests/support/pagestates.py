"""Every page of the app in each state people meet it, for the tests that look at all of them
(phone width, accessibility): real media probed and searched for faces, tasks in each state.

`build_page_states` makes the objects in the test database and returns the states as
(name, who looks, address) rows. The review panel's pages are looked at by a staff owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from projects.models import LipSyncTask, MediaStatus, SourceVideo, TaskStatus
from projects.services import dubs, membership
from tests.support.dubs import with_people
from tests.support.fixtures import add_speech, add_video, make_face_video_file
from tests.support.mediagen import make_video
from tests.support.reviewing import finish

# What a GET of each app address answers that is not a page of its own: parts of a page that
# it polls or swaps in, files, and the voice sample. Every other address is a page and must
# appear among the states (test_every_page_is_looked_at).
NOT_PAGES = {
    "projects:tasks-panel",
    "projects:video-status",
    "projects:video-file",
    "projects:faces",
    "projects:face-file",
    "projects:audio-status",
    "projects:audio-file",
    "projects:voice-sample",
    "projects:task-status",
    "projects:task-file",
    "projects:task-captions",
    "projects:video-new-clip",
    "projects:dub-status",
    "projects:dub-new-clip",
    "projects:dub-result",
    "projects:dub-person-file",
}


@dataclass(frozen=True)
class PageState:
    name: str
    user: str  # the persona who looks
    url: str


def _task(project, video, clip, face, user, status: TaskStatus, **fields) -> LipSyncTask:
    task = LipSyncTask.objects.create(
        project=project,
        video=video,
        audio=clip,
        face=face,
        sound_insert_ms=face.start_ms,
        sound_end_ms=2_500,
        engine="local",
        created_by=user,
        **fields,
    )
    LipSyncTask.objects.filter(pk=task.pk).update(status=status)
    task.refresh_from_db()
    return task


def build_page_states(project, users, folder: Path) -> list[PageState]:
    """Objects for each page state in `project` (owner staff, so the panel opens), and the list."""
    owner, editor = users["owner"], users["editor"]
    owner.is_staff = True
    owner.save(update_fields=["is_staff"])
    membership.create_project(name="Spring campaign", owner=editor)

    video = add_video(project, editor, make_face_video_file(folder / "presenter.mp4"))
    face = video.faces.first()
    clip = add_speech(project, editor, folder / "speech_4s.wav", duration_ms=4_000)
    add_speech(project, editor, folder / "speech_1s.wav", duration_ms=1_000)
    small = add_video(
        project, editor, make_video(folder / "tiny.mp4", width=320, height=240), identify=False
    )
    checking = SourceVideo.objects.create(
        project=project,
        original_name="arriving.mp4",
        created_by=editor,
        status=MediaStatus.PROBING,
        media_info={"source_url": "https://example.com/arriving.mp4"},
    )

    queued = _task(project, video, clip, face, editor, TaskStatus.QUEUED)
    done = _task(project, video, clip, face, editor, TaskStatus.QUEUED)
    done.result_file.save("r.mp4", ContentFile(video.file.read()), save=True)
    finish(done)
    failed = _task(
        project,
        video,
        clip,
        face,
        editor,
        TaskStatus.FAILED,
        status_message="The engine could not find the face in the chosen part of the video.",
        finished_at=timezone.now(),
    )
    # A dub whose one line does not fit the person's time on screen: its rule is shown.
    dub = dubs.create(video=with_people(video, {1: [(500, 3_500)]}), user=editor)
    dubs.add_line(dub, dubs.LineInput(person=1, at_ms=0, audio=clip))
    return [
        PageState("login", "", reverse("login")),
        PageState("dub", "editor", dub.get_absolute_url()),
        PageState("not-found", "editor", "/projects/987654/"),
        PageState("project-list", "editor", reverse("projects:list")),
        PageState("project", "editor", project.get_absolute_url()),
        PageState("members", "owner", reverse("projects:members", args=[project.pk])),
        PageState("video-checking", "editor", checking.get_absolute_url()),
        PageState("video-faces", "editor", video.get_absolute_url()),
        PageState("video-problem", "editor", small.get_absolute_url()),
        PageState("timeline", "editor", f"{video.get_absolute_url()}?face={face.pk}"),
        PageState("quick-mode", "editor", reverse("projects:quick", args=[video.pk])),
        PageState("task-queued", "editor", queued.get_absolute_url()),
        PageState("task-done", "editor", done.get_absolute_url()),
        PageState("task-failed", "editor", failed.get_absolute_url()),
        PageState("delete-video", "editor", reverse("projects:video-delete", args=[small.pk])),
        PageState("delete-audio", "editor", reverse("projects:audio-delete", args=[clip.pk])),
        PageState("delete-task", "editor", reverse("projects:task-delete", args=[failed.pk])),
        PageState("delete-dub", "editor", reverse("projects:dub-delete", args=[dub.pk])),
        PageState("review-queue", "owner", reverse("admin:projects_reviewqueuetask_changelist")),
        PageState(
            "review-task", "owner", reverse("admin:projects_lipsynctask_change", args=[done.pk])
        ),
    ]
