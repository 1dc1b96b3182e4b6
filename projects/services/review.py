"""Review decisions, the editor's feedback about them, and the credits the engine charged.

A decision is only ever taken on a finished task (status `succeed`) by someone whose role in
the task's project includes REVIEW. Taking it again is allowed (a reviewer may change their
mind) and leaves its own line in the audit trail, with the decision it replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from projects.access import ROLE_ABILITIES, Ability, AnyUser
from projects.models import (
    AuditVerb,
    LipSyncTask,
    Membership,
    Project,
    ReviewState,
    TaskStatus,
)
from projects.services import audit
from projects.services.errors import ServiceError

logger = logging.getLogger(__name__)

DECISIONS = {ReviewState.APPROVED: AuditVerb.APPROVED, ReviewState.REJECTED: AuditVerb.REJECTED}
NOTE_MAX_CHARS = 2000
# The notice on the project page lists at most this many decisions (the newest).
NOTICE_LIMIT = 20
REVIEW_ROLES = frozenset(
    role for role, granted in ROLE_ABILITIES.items() if Ability.REVIEW in granted
)


# --- Who may decide -------------------------------------------------------------------------


def reviewable_projects(user: AnyUser) -> QuerySet[Project]:
    """The projects in which `user` may approve and reject (every project for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user, memberships__role__in=REVIEW_ROLES)


def may_review(
    user: AnyUser, project_id: int, reviewable_ids: frozenset[int] | None = None
) -> bool:
    """`reviewable_ids`, when given, spares a query per task in a bulk decision."""
    if user.is_superuser and user.is_active:
        return True
    if reviewable_ids is not None:
        return project_id in reviewable_ids
    return reviewable_projects(user).filter(pk=project_id).exists()


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
        transaction.on_commit(partial(_enqueue_email, str(locked.pk)))
    return locked


def _enqueue_email(task_pk: str) -> None:
    from projects import tasks  # tasks import services: import late to avoid a cycle

    tasks.email_review_decision.delay(task_pk)


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


def membership_of(user: AnyUser, project: Project) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.filter(user_id=user.pk, project=project).first()


def decisions_since_last_visit(membership: Membership) -> list[LipSyncTask]:
    """Decisions on this member's own tasks taken since they last marked them as seen."""
    decided = LipSyncTask.objects.filter(
        project_id=membership.project_id,
        created_by_id=membership.user_id,
        reviewed_at__isnull=False,
    )
    if membership.decisions_seen_at is not None:
        decided = decided.filter(reviewed_at__gt=membership.decisions_seen_at)
    return list(
        decided.select_related("video", "reviewer").order_by("-reviewed_at")[: NOTICE_LIMIT + 1]
    )


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


# --- Credits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthCredits:
    project_id: int
    project_name: str
    month: datetime
    tasks: int
    credits: Decimal


def credits_by_month(tasks: QuerySet[LipSyncTask]) -> list[MonthCredits]:
    """Credits charged, summed per project and per month (the month the task finished in).

    One query, whatever the number of tasks. Newest month first.
    """
    rows = (
        tasks.filter(credits_charged__isnull=False)
        .annotate(month=TruncMonth(Coalesce("finished_at", "created_at")))
        .order_by()  # drop the model's ordering: it would split the groups
        .values("project_id", "project__name", "month")
        .annotate(tasks=Count("pk"), credits=Sum("credits_charged"))
        .order_by("-month", "project__name")
    )
    return [
        MonthCredits(
            project_id=row["project_id"],
            project_name=row["project__name"],
            month=row["month"],
            tasks=row["tasks"],
            credits=row["credits"],
        )
        for row in rows
    ]


# --- The project page -----------------------------------------------------------------------


def project_page_extras(user: AnyUser, project: Project) -> dict:
    """The decisions notice for this member and the project's credits, for the project page."""
    membership = membership_of(user, project)
    decisions = decisions_since_last_visit(membership) if membership else []
    return {
        "decisions": decisions[:NOTICE_LIMIT],
        "more_decisions": len(decisions) > NOTICE_LIMIT,
        "credits_by_month": credits_by_month(project.tasks.all()),
    }
