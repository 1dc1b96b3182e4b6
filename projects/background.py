"""Background work: the Celery tasks, the app's one way of running something off the request.

Each task takes primary keys, imports its service inside its body (so that this module
imports no service, and services can import this module at the top), and calls one verb.
Services start them one way: `background.some_task.delay_on_commit(...)` (or
`apply_async_on_commit` for a countdown), so the message is sent only once the rows it names
are committed. "Who starts X?" is a grep for `background.X`.

Every task is safe to run twice (a redelivery after a lost worker, or a duplicate): the
services claim their row with a conditional update before doing the work.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

# Media work is CPU-bound and can take a while on a long 1080p file.
MEDIA_TASK_LIMITS = {"soft_time_limit": 10 * 60, "time_limit": 11 * 60}
ENGINE_TASK_LIMITS = {
    "soft_time_limit": max(5, settings.LIPSYNC_SUBMIT_TIME_LIMIT_S - 30),
    "time_limit": settings.LIPSYNC_SUBMIT_TIME_LIMIT_S,
}
SHORT_TASK_LIMITS = {"soft_time_limit": 11 * 60, "time_limit": 12 * 60}
# A 30-minute source decoded and encoded once: a dub's assembly, or a phone's video turned
# upright when it is probed (after an upload, or after an import, which probes in its task).
WHOLE_SOURCE_TASK_LIMITS = {"soft_time_limit": 60 * 60, "time_limit": 61 * 60}


# --- Videos and audio clips ------------------------------------------------------------------


@shared_task(**WHOLE_SOURCE_TASK_LIMITS)
def probe_video(video_id: int) -> None:
    from projects.services import media

    media.probe_video(video_id)


@shared_task(**MEDIA_TASK_LIMITS)
def probe_audio(clip_id: int) -> None:
    from projects.services import media

    media.probe_audio(clip_id)


@shared_task(**WHOLE_SOURCE_TASK_LIMITS)
def import_media(kind: str, row_id: int) -> None:
    from projects.services import media

    media.fetch_imported(kind, row_id)


@shared_task(**MEDIA_TASK_LIMITS)
def conform_video(video_id: int) -> None:
    from projects.services import media

    media.conform_video(video_id)


@shared_task(**MEDIA_TASK_LIMITS)
def conform_audio(clip_id: int) -> None:
    from projects.services import media

    media.conform_audio(clip_id)


@shared_task(**MEDIA_TASK_LIMITS)
def synthesize_clip(clip_id: int) -> None:
    from projects.services import media

    media.synthesize_clip(clip_id)


@shared_task(**SHORT_TASK_LIMITS)
def make_voice_sample(voice_id: str, language: str) -> None:
    from projects.services import voices

    voices.make_sample(voice_id, language)


# --- Faces and the lip-sync pipeline ---------------------------------------------------------


# The local engine searches faces in the worker itself (minutes on a long 1080p video): this
# is media work, not bound by the submit limit that reconcile's staleness is measured against.
@shared_task(**MEDIA_TASK_LIMITS)
def identify_faces(video_id: int) -> None:
    from projects.services import faces

    faces.identify(video_id)


@shared_task(**SHORT_TASK_LIMITS)
def dispatch_engine(engine_name: str) -> None:
    from projects.services import pipeline

    pipeline.dispatch(engine_name)


@shared_task(**ENGINE_TASK_LIMITS)
def submit_task(task_id: str) -> None:
    from projects.services import pipeline

    pipeline.submit(task_id)


@shared_task(bind=True, **SHORT_TASK_LIMITS)
def poll_task(self, task_id: str, seq: int) -> None:
    from projects.services import pipeline

    # The message's id names this delivery: the same message redelivered keeps its claims.
    pipeline.poll(task_id, seq, delivery=self.request.id or "")


@shared_task(bind=True, **SHORT_TASK_LIMITS)
def refresh_task(self, task_id: str) -> None:
    from projects.services import pipeline

    pipeline.refresh(task_id, delivery=self.request.id or "")


@shared_task(**SHORT_TASK_LIMITS)
def reconcile() -> dict[str, int]:
    from projects.services import pipeline

    return pipeline.reconcile()


# --- Dubs ------------------------------------------------------------------------------------


@shared_task(**MEDIA_TASK_LIMITS)
def find_people(video_id: int) -> None:
    from projects.services import people

    people.find(video_id)


# Starting a job cuts its window, builds its clip and identifies its faces: media work.
@shared_task(**MEDIA_TASK_LIMITS)
def advance_dub(dub_id: int) -> None:
    from projects.services import dubs

    dubs.advance(dub_id)


@shared_task(**WHOLE_SOURCE_TASK_LIMITS)
def assemble_dub(dub_id: int) -> None:
    from projects.services import dubs

    dubs.assemble_result(dub_id)


@shared_task(**SHORT_TASK_LIMITS)
def reconcile_dubs() -> int:
    from projects.services import dubs

    return dubs.reconcile()


# --- Review ----------------------------------------------------------------------------------


@shared_task(**SHORT_TASK_LIMITS)
def email_review_decision(task_id: str) -> None:
    from projects.services import review

    review.email_creator(task_id)


@shared_task(**SHORT_TASK_LIMITS)
def mail_invitation(invitation_id: int) -> None:
    from projects.services import membership

    membership.mail_invitation(invitation_id)
