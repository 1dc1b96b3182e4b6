"""Lip-sync tasks as the editor sees them: create, try again, duplicate, cancel."""

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
    TaskStatus,
)
from projects.services import audit, pipeline
from projects.services.errors import ServiceError

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
    if task.status not in (TaskStatus.FAILED, TaskStatus.CANCELLED):
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
def cancel(task: LipSyncTask, user: AbstractBaseUser) -> None:
    if not pipeline.cancel(task):
        raise ServiceError(
            "This task has already been sent to the engine, so it can no longer be cancelled."
        )
    audit.record(user, AuditVerb.CANCELLED, task.project, task=task)


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
    if video.status != MediaStatus.READY:
        raise ServiceError("This video is not ready yet; wait until it has been checked.")
