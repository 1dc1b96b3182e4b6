"""Review decisions in the service, the editor's notice of them, and credits."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse
from django.utils import timezone

from projects import selectors
from projects.models import (
    AuditEvent,
    AuditVerb,
    LipSyncTask,
    ReviewState,
    TaskStatus,
)
from projects.services import membership, review
from projects.services.errors import ServiceError
from tests.support.objects import project_objects
from tests.support.reviewing import TASKS_CHANGELIST, another_task, finish, panel

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


# --- The service ----------------------------------------------------------------------------


def test_approval_records_reviewer_time_audit_and_mails_the_creator(
    task, staff, django_capture_on_commit_callbacks, celery_eager
):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(task, staff["reviewer"], ReviewState.APPROVED, "  Lovely.  ")
    task.refresh_from_db()
    assert task.review_state == ReviewState.APPROVED
    assert task.reviewer == staff["reviewer"]
    assert task.reviewed_at >= before
    assert task.review_note == "Lovely."
    event = AuditEvent.objects.get(task=task)
    assert (event.verb, event.actor, event.note) == (
        AuditVerb.APPROVED,
        staff["reviewer"],
        "Lovely.",
    )
    [message] = mail.outbox
    assert message.to == ["editor@example.com"]
    assert message.subject == "Approved: v.mp4"
    assert "Lovely." in message.body
    assert task.get_absolute_url() in message.body


def test_a_rejection_needs_a_note_and_changes_nothing_without_one(task, staff):
    with pytest.raises(ServiceError, match="Write a short note"):
        review.decide(task, staff["reviewer"], ReviewState.REJECTED, "   ")
    task.refresh_from_db()
    assert task.review_state == ReviewState.PENDING
    assert task.reviewer is None
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    "status", [TaskStatus.DRAFT, TaskStatus.QUEUED, TaskStatus.PROCESSING, TaskStatus.FAILED]
)
def test_only_finished_tasks_can_be_reviewed(task, staff, status):
    LipSyncTask.objects.filter(pk=task.pk).update(status=status)
    with pytest.raises(ServiceError, match="Only finished videos"):
        review.decide(task, staff["owner"], ReviewState.APPROVED)
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


@pytest.mark.parametrize("persona", ["editor", "outsider"])
def test_people_without_the_review_role_cannot_decide(task, staff, persona):
    with pytest.raises(PermissionDenied):
        review.decide(task, staff[persona], ReviewState.APPROVED)
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


def test_a_new_decision_is_allowed_and_the_trail_names_the_one_it_replaced(task, staff):
    review.decide(task, staff["reviewer"], ReviewState.APPROVED)
    review.decide(task, staff["owner"], ReviewState.REJECTED, "Lips drift at 0:04.")
    task.refresh_from_db()
    assert (task.review_state, task.reviewer) == (ReviewState.REJECTED, staff["owner"])
    trail = list(AuditEvent.objects.filter(task=task).order_by("created_at", "pk"))
    assert [(e.verb, e.note) for e in trail] == [
        (AuditVerb.APPROVED, ""),
        (AuditVerb.REJECTED, "changed from “Approved”: Lips drift at 0:04."),
    ]


def test_an_unknown_decision_or_an_overlong_note_is_refused_in_words(task, staff):
    with pytest.raises(ServiceError, match="Approve"):
        review.decide(task, staff["owner"], "pending")
    with pytest.raises(ServiceError, match="keep it under"):
        review.decide(task, staff["owner"], ReviewState.APPROVED, "x" * 2001)


class BrokenMailServer(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


def test_a_failing_mail_server_does_not_undo_the_decision(
    task, staff, settings, django_capture_on_commit_callbacks, caplog, celery_eager
):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenMailServer"
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(task, staff["reviewer"], ReviewState.REJECTED, "Too fast.")
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.REJECTED
    assert "Could not email the review decision" in caplog.text


def test_a_line_break_in_the_video_name_does_not_stop_the_mail(
    task, staff, django_capture_on_commit_callbacks, celery_eager
):
    task.video.original_name = "take\none.mp4"
    task.video.save(update_fields=["original_name"])
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(task, staff["reviewer"], ReviewState.APPROVED)
    [message] = mail.outbox
    assert message.subject == "Approved: take one.mp4"


def test_no_mail_when_the_creator_has_no_address(
    task, staff, django_capture_on_commit_callbacks, celery_eager
):
    staff["editor"].email = ""
    staff["editor"].save(update_fields=["email"])
    with django_capture_on_commit_callbacks(execute=True):
        review.decide(task, staff["reviewer"], ReviewState.APPROVED)
    assert mail.outbox == []


# --- Feedback to the editor in the app --------------------------------------------------------


def test_the_editor_sees_new_decisions_until_marked_as_seen(task, staff, clients):
    review.decide(task, staff["reviewer"], ReviewState.REJECTED, "Mouth drifts at 0:02.")
    page_url = task.project.get_absolute_url()
    page = clients["editor"].get(page_url).content.decode()
    assert "New review decisions on your videos" in page
    assert "Mouth drifts at 0:02." in page
    # The reviewer made none of these tasks: no notice for them.
    assert "New review decisions" not in clients["reviewer"].get(page_url).content.decode()

    shown_until = re.search(r'name="until" value="([^"]+)"', page).group(1)
    response = clients["editor"].post(
        reverse("projects:decisions-seen", args=[task.project_id]), {"until": shown_until}
    )
    assert response.status_code == 302
    assert "New review decisions" not in clients["editor"].get(page_url).content.decode()


def test_a_decision_taken_while_the_page_was_open_stays_in_the_notice(task, staff, clients):
    review.decide(task, staff["reviewer"], ReviewState.APPROVED)
    page_url = task.project.get_absolute_url()
    page = clients["editor"].get(page_url).content.decode()
    shown_until = re.search(r'name="until" value="([^"]+)"', page).group(1)
    later = finish(another_task(task))
    review.decide(later, staff["reviewer"], ReviewState.REJECTED, "Second take too quiet.")
    clients["editor"].post(
        reverse("projects:decisions-seen", args=[task.project_id]),
        {"until": shown_until},
        HTTP_HX_REQUEST="true",
    )
    page = clients["editor"].get(page_url).content.decode()
    assert "Second take too quiet." in page
    assert page.count('class="badge badge-approved"') == 1  # the task table only


def test_the_task_page_shows_the_decision_and_note(task, staff, clients):
    review.decide(task, staff["reviewer"], ReviewState.REJECTED, "Try a shorter clip.")
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    assert "Rejected" in page
    assert "Try a shorter clip." in page
    assert "by reviewer" in page


# --- Credits -------------------------------------------------------------------------------


def test_credits_are_summed_per_project_and_month(task, staff, users):
    march = timezone.make_aware(datetime(2026, 3, 10, 12))
    april = timezone.make_aware(datetime(2026, 4, 2, 12))
    finish(task, "2.5", march)
    finish(another_task(task), "1.25", march)
    finish(another_task(task), "4", april)
    finish(another_task(task), None, april)  # nothing charged: not a row of its own
    other = membership.create_project(name="Another", owner=users["owner"])
    other_task = project_objects(other, users["owner"])["task"]
    finish(other_task, "10", march)

    rows = selectors.credits_by_month(LipSyncTask.objects.all())
    assert [(r.project_name, r.month.date().isoformat(), r.tasks, r.credits) for r in rows] == [
        ("Harbour documentary", "2026-04-01", 1, Decimal("4.00")),
        ("Another", "2026-03-01", 1, Decimal("10.00")),
        ("Harbour documentary", "2026-03-01", 2, Decimal("3.75")),
    ]


def test_credits_show_on_the_project_page_and_in_the_panel(task, staff, clients):
    finish(task, "3.5", timezone.make_aware(datetime(2026, 5, 20, 12)))
    page = clients["editor"].get(task.project.get_absolute_url()).content.decode()
    assert "Credits charged by the engine" in page
    assert "May 2026" in page
    assert "3.50" in page
    listing = panel(staff["owner"]).get(reverse(TASKS_CHANGELIST)).content.decode()
    assert "Credits charged for the tasks listed" in listing
    assert "May 2026" in listing
    project_page = panel(staff["owner"]).get(
        reverse("admin:projects_project_change", args=[task.project_id])
    )
    assert "3.50" in project_page.content.decode()
