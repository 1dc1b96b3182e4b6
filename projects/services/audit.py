"""The audit trail: who uploaded, submitted, retried, approved or rejected what, and when; and
the site's own events (logins locked after repeated failures)."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from projects.models import AudioClip, AuditEvent, AuditVerb, LipSyncTask, Project, SourceVideo


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


def record_login_lock(*, username: str, address: str, login: str, failures: int) -> AuditEvent:
    """A login locked after `failures` failed attempts for `username` or from `address`.

    No actor (whoever typed the passwords is unknown) and no project: a site event.
    """
    shown = " ".join(username.split())[:150] or "(blank)"
    return AuditEvent.objects.create(
        actor=None,
        verb=AuditVerb.LOGIN_LOCKED,
        project=None,
        note=f"Account “{shown}” from {address or 'an unknown address'} at the {login}: "
        f"{failures} failed attempts.",
    )
