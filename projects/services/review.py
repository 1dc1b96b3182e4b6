"""Review decisions: taking them, telling the editor, and marking them as seen.

A decision is only ever taken on a finished task (status `succeed`) by someone whose role in
the task's project includes REVIEW. Taking it again is allowed (a reviewer may change their
mind) and leaves its own line in the audit trail, with the decision it replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from projects import background
from projects.access import may_review, reviewable_projects
from projects.models import (
    AuditVerb,
    LipSyncTask,
    Membership,
    ReviewState,
    TaskStatus,
)
from projects.services import audit
from projects.services.errors import ServiceError

logger = logging.getLogger(__name__)

DECISIONS = {ReviewState.APPROVED: AuditVerb.APPROVED, ReviewState.REJECTED: AuditVerb.REJECTED}
NOTE_MAX_CHARS = 2000


# --- Deciding -------------------------------------------------------------------------------


def decide(
    task: LipSyncTask,
    reviewer: AbstractBaseUser,
    decision: str,
    note: str = "",
    *,
    reviewable_ids: frozenset[int] | None = None,
) -> LipSyncTask:
    """Approve or reject `task`; record who and when, audit it, and tell the task's creator.

    Raises PermissionDenied when `reviewer` may not review in the task's project and
    ServiceError (with a sentence for the person) when the decision cannot be taken.
    """
    if not may_review(reviewer, task.project_id, reviewable_ids):
        raise PermissionDenied("Your role in this project does not allow reviewing.")
    note = _clean_note(decision, note)
    with transaction.atomic():
        locked = LipSyncTask.objects.select_for_update().get(pk=task.pk)
        if locked.status != TaskStatus.SUCCEED:
            raise ServiceError(
                f"Only finished videos can be reviewed; this task is "
                f"“{locked.get_status_display()}”."
            )
        previous = locked.review_state
        locked.review_state = decision
        locked.reviewer = reviewer
        locked.reviewed_at = timezone.now()
        locked.review_note = note
        locked.save(update_fields=["review_state", "reviewer", "reviewed_at", "review_note"])
        audit.record(
            reviewer,
            DECISIONS[decision],
            task.project,
            task=locked,
            note=_audit_note(previous, note),
        )
        # Mail goes from a worker: a slow mail server must not slow the reviewer's page.
        background.email_review_decision.delay_on_commit(str(locked.pk))
    return locked


def _clean_note(decision: str, note: str) -> str:
    if decision not in DECISIONS:
        raise ServiceError("Choose “Approve” or “Reject”.")
    note = (note or "").strip()
    if decision == ReviewState.REJECTED and not note:
        raise ServiceError(
            "Write a short note before rejecting: the editor reads it to know what to change."
        )
    if len(note) > NOTE_MAX_CHARS:
        raise ServiceError(
            f"The note is {len(note)} characters long; keep it under {NOTE_MAX_CHARS}."
        )
    return note


def _audit_note(previous: str, note: str) -> str:
    """A re-decision names the decision it replaces, so the trail tells the whole story."""
    if previous == ReviewState.PENDING:
        return note
    replaced = f"changed from “{ReviewState(previous).label}”"
    return f"{replaced}: {note}" if note else replaced


@dataclass
class BulkOutcome:
    decided: list[LipSyncTask] = field(default_factory=list)
    skipped: list[tuple[LipSyncTask, str]] = field(default_factory=list)


def decide_many(
    tasks: QuerySet[LipSyncTask], reviewer: AbstractBaseUser, decision: str, note: str = ""
) -> BulkOutcome:
    """Decide each task on its own: one task that cannot be decided does not stop the others."""
    _clean_note(decision, note)  # the same mistake would be reported once per task otherwise
    reviewable_ids = frozenset(reviewable_projects(reviewer).values_list("pk", flat=True))
    outcome = BulkOutcome()
    for task in tasks.select_related("project"):
        try:
            outcome.decided.append(
                decide(task, reviewer, decision, note, reviewable_ids=reviewable_ids)
            )
        except PermissionDenied:
            outcome.skipped.append((task, "your role in its project does not allow reviewing"))
        except ServiceError as error:
            outcome.skipped.append((task, str(error)))
    return outcome


# --- Telling the editor ---------------------------------------------------------------------


def email_creator(task_pk: object) -> None:
    """Mail the task's creator about the decision (through the configured email backend).

    Runs after the decision is committed; a mail server that fails must not undo it, so the
    failure is logged rather than raised.
    """
    task = (
        LipSyncTask.objects.select_related("created_by", "project", "video")
        .filter(pk=task_pk)
        .first()
    )
    address = getattr(task.created_by, "email", "") if task is not None else ""
    if not address:
        return
    approved = task.review_state == ReviewState.APPROVED
    # A file name may hold line breaks, which a mail header must not.
    video_name = " ".join(task.video.original_name.split())
    subject = f"Approved: {video_name}" if approved else f"Needs changes: {video_name}"
    lines = [
        f"Your lip-sync video of “{video_name}” in the project "
        f"“{task.project.name}” was {'approved' if approved else 'rejected'}.",
    ]
    if task.review_note:
        lines += ["", f"The reviewer's note: {task.review_note}"]
    lines += ["", f"Open the task: {_absolute(task.get_absolute_url())}"]
    try:
        send_mail(subject, "\n".join(lines), None, [address])
    except Exception:  # any backend error: SMTP, DNS, refused address…
        logger.exception("Could not email the review decision on task %s", task.pk)


def _absolute(path: str) -> str:
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{path}" if base else path


def mark_decisions_seen(membership: Membership, until: datetime | None = None) -> None:
    """Hide the decisions up to `until` (the newest one the member was shown), never later.

    Marking up to the newest decision shown rather than "now" keeps a decision taken while
    the page was open in the notice; the mark never moves back nor into the future.
    """
    now = timezone.now()
    until = min(until or now, now)
    if membership.decisions_seen_at is not None and until <= membership.decisions_seen_at:
        return
    membership.decisions_seen_at = until
    membership.save(update_fields=["decisions_seen_at"])
