"""Celery tasks: each takes primary keys, loads, and calls one service.

Every task is safe to run twice (a redelivery after a lost worker, or a duplicate): the
services claim their row with a conditional update before doing the work.
"""

from __future__ import annotations

from celery import shared_task

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
