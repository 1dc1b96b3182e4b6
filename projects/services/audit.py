"""The audit trail: who uploaded, submitted, retried, approved or rejected what, and when."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from projects.models import AudioClip, AuditEvent, LipSyncTask, Project, SourceVideo


def record(
    actor: AbstractBaseUser | None,
    verb: str,
    project: Project,
    *,
    task: LipSyncTask | None = None,
    video: SourceVideo | None = None,
    audio: AudioClip | None = None,
    note: str = "",
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        verb=verb,
        project=project,
        task=task,
        video=video,
        audio=audio,
        note=note,
    )
