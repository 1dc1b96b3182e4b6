"""Celery tasks: each takes primary keys, loads, and calls one service.

Every task is safe to run twice (a redelivery after a lost worker, or a duplicate): the
services claim their row with a conditional update before doing the work.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from projects.models import LipSyncTask
from projects.services import faces, pipeline, review
from projects.services import media as media_services

# Media work is CPU-bound and can take a while on a long 1080p file.
MEDIA_TASK_LIMITS = {"soft_time_limit": 10 * 60, "time_limit": 11 * 60}


@shared_task(**MEDIA_TASK_LIMITS)
def probe_video(video_id: int) -> None:
    media_services.probe_video(video_id)


@shared_task(**MEDIA_TASK_LIMITS)
def probe_audio(clip_id: int) -> None:
    media_services.probe_audio(clip_id)


@shared_task(**MEDIA_TASK_LIMITS)
def import_media(kind: str, row_id: int) -> None:
    media_services.fetch_imported(kind, row_id)


@shared_task(**MEDIA_TASK_LIMITS)
def conform_video(video_id: int) -> None:
    media_services.conform_video(video_id)


@shared_task(**MEDIA_TASK_LIMITS)
def conform_audio(clip_id: int) -> None:
    media_services.conform_audio(clip_id)


# --- Faces and the lip-sync pipeline ---------------------------------------------------------

ENGINE_TASK_LIMITS = {
    "soft_time_limit": max(5, settings.LIPSYNC_SUBMIT_TIME_LIMIT_S - 30),
    "time_limit": settings.LIPSYNC_SUBMIT_TIME_LIMIT_S,
}
SHORT_TASK_LIMITS = {"soft_time_limit": 11 * 60, "time_limit": 12 * 60}


# The local engine searches faces in the worker itself (minutes on a long 1080p video): this
# is media work, not bound by the submit limit that reconcile's staleness is measured against.
@shared_task(**MEDIA_TASK_LIMITS)
def identify_faces(video_id: int) -> None:
    faces.identify(video_id)


@shared_task(**SHORT_TASK_LIMITS)
def dispatch_engine(engine_name: str) -> None:
    pipeline.dispatch(engine_name)


@shared_task(**ENGINE_TASK_LIMITS)
def submit_task(task_id: str) -> None:
    pipeline.submit(task_id)


@shared_task(**SHORT_TASK_LIMITS)
def poll_task(task_id: str, seq: int) -> None:
    pipeline.poll(task_id, seq)


@shared_task(**SHORT_TASK_LIMITS)
def refresh_task(task_id: str) -> None:
    task = LipSyncTask.objects.filter(pk=task_id).first()
    if task is not None:
        pipeline.refresh_from_engine(task)


@shared_task(**SHORT_TASK_LIMITS)
def reconcile() -> dict[str, int]:
    return pipeline.reconcile()


@shared_task(**MEDIA_TASK_LIMITS)
def synthesize_clip(clip_id: int) -> None:
    media_services.synthesize_clip(clip_id)


@shared_task(**SHORT_TASK_LIMITS)
def make_voice_sample(voice_id: str, language: str) -> None:
    from projects.engines.local.tts import voice_sample
    from projects.views.voices import sample_path

    target = sample_path(voice_id, language)
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.wav")
    voice_sample(voice_id, language, partial)
    partial.replace(target)


@shared_task(**SHORT_TASK_LIMITS)
def email_review_decision(task_id: str) -> None:
    review.email_creator(task_id)
