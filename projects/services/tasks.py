"""Lip-sync tasks as the editor sees them: create, try again, duplicate, cancel.

What happens to a task once queued (submit, poll, download) is `services/pipeline.py`.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from projects.models import (
    AudioClip,
    AudioSource,
    AuditVerb,
    LipSyncTask,
    MediaStatus,
    SourceVideo,
    TaskKind,
)
from projects.services import audit, pipeline
from projects.services.errors import ServiceError
from projects.services.storage import delete_when_committed

# The parameters that make a task what it is: copied by "Try again" and "Duplicate".
TASK_PARAMETERS = (
    "video_id",
    "face_id",
    "audio_id",
    "kind",
    "sound_start_ms",
    "sound_end_ms",
    "sound_insert_ms",
    "sound_volume",
    "original_audio_volume",
    "watermark_wanted",
)


@transaction.atomic
def create_advanced(*, video: SourceVideo, user: AbstractBaseUser, data: dict) -> LipSyncTask:
    """Create and queue a task from a valid TaskForm's cleaned data."""
    _require_usable(video)
    task = LipSyncTask.objects.create(
        project=video.project,
        video=video,
        face=data["face"],
        audio=data["audio"],
        kind=TaskKind.ADVANCED,
        sound_start_ms=data["sound_start_ms"],
        sound_end_ms=data["sound_end_ms"],
        sound_insert_ms=data["sound_insert_ms"],
        sound_volume=data["sound_volume"],
        original_audio_volume=data["original_audio_volume"],
        watermark_wanted=data["watermark"],
        engine=settings.LIPSYNC_ENGINE,
        created_by=user,
    )
    return _queue_new(task, user, AuditVerb.SUBMITTED)


@transaction.atomic
def create_quick(*, video: SourceVideo, user: AbstractBaseUser, data: dict) -> LipSyncTask:
    """A basic (whole-video) task from a valid QuickTaskForm: text with a voice, or a clip."""
    _require_usable(video)
    if data["mode"] == "text":
        audio = AudioClip.objects.create(
            project=video.project,
            source=AudioSource.TTS,
            tts_text=data["text"],
            voice_id=data["voice_id"],
            voice_language=data["voice_language"],
            voice_speed=data["voice_speed"],
            status=MediaStatus.READY,
            created_by=user,
        )
    else:
        audio = data["audio"]
    task = LipSyncTask.objects.create(
        project=video.project,
        video=video,
        audio=audio,
        kind=TaskKind.BASIC,
        engine=settings.LIPSYNC_ENGINE,
        created_by=user,
    )
    return _queue_new(task, user, AuditVerb.SUBMITTED)


@transaction.atomic
def retry(task: LipSyncTask, user: AbstractBaseUser) -> LipSyncTask:
    """A new task with every parameter of a failed or cancelled one (a new external id)."""
    if task.cure_needed:
        raise ServiceError(
            f"The same task would fail the same way. {task.cure_label}, then submit again."
        )
    if not task.can_retry:
        raise ServiceError("Only a failed or cancelled task can be tried again.")
    fresh = LipSyncTask(
        project=task.project,
        engine=settings.LIPSYNC_ENGINE,
        created_by=user,
        retry_of=task,
        **{name: getattr(task, name) for name in TASK_PARAMETERS},
    )
    fresh.save()
    return _queue_new(fresh, user, AuditVerb.RETRIED, note=f"retry of {task.pk}")


@transaction.atomic
def cancel(task: LipSyncTask, user: AbstractBaseUser) -> str:
    """Cancel a task not yet sent, or waiting to be sent again; returns what to tell."""
    if pipeline.cancel(task):
        told = "Cancelled. Nothing was sent to the engine."
    else:
        told = pipeline.cancel_waiting(task)
    if not told:
        raise ServiceError(
            "This task is being sent to the engine right now, or has reached it, so it can no "
            "longer be cancelled."
        )
    audit.record(user, AuditVerb.CANCELLED, task.project, task=task)
    return told


@transaction.atomic
def rename(task: LipSyncTask, *, title: str, by: AbstractBaseUser) -> None:
    """Give the task a name of one's own; an empty one brings back the name made from it."""
    old = task.display_name
    task.title = " ".join(title.split())[: LipSyncTask._meta.get_field("title").max_length]
    task.save(update_fields=["title"])
    if task.display_name != old:
        audit.record(
            by, AuditVerb.RENAMED, task.project, task=task, note=f"“{old}” → “{task.display_name}”"
        )


@transaction.atomic
def delete(task: LipSyncTask, *, by: AbstractBaseUser) -> None:
    """Delete a task that is not being sent nor at the engine, and then its result files."""
    locked = LipSyncTask.objects.select_for_update().filter(pk=task.pk).first()
    if locked is None:
        return  # already deleted
    if locked.delete_refusal:
        raise ServiceError(f"“{task.display_name}” cannot be deleted now. {locked.delete_refusal}")
    audit.record(
        by, AuditVerb.DELETED, locked.project, task=locked, note=f"the task “{task.display_name}”"
    )
    files = (locked.result_file, locked.watermarked_result_file)
    locked.delete()
    delete_when_committed(*files)


def duplicate_initial(task: LipSyncTask) -> dict:
    """Form values that start a new task from an old one, to vary it."""
    return {
        "face": task.face_id,
        "audio": task.audio_id,
        "sound_start": task.sound_start_ms / 1000,
        "sound_end": task.sound_end_ms / 1000,
        "sound_insert": task.sound_insert_ms / 1000,
        "sound_volume": task.sound_volume,
        "original_audio_volume": task.original_audio_volume,
        "watermark": task.watermark_wanted,
    }


def _queue_new(task: LipSyncTask, user: AbstractBaseUser, verb: str, note: str = "") -> LipSyncTask:
    audit.record(user, verb, task.project, task=task, video=task.video, audio=task.audio, note=note)
    pipeline.queue(task)
    return task


def _require_usable(video: SourceVideo) -> None:
    if not video.is_ready:
        raise ServiceError("This video is not ready yet; wait until it has been checked.")
