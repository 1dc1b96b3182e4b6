"""The task page: what was asked, in the app's words, and how a problem is shown."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from projects.engines.base import Cure
from projects.models import LipSyncTask, TaskStatus
from tests.support.objects import project_objects

pytestmark = pytest.mark.django_db


def test_a_chosen_face_task_lists_its_face_window_crop_and_placement(clients, project, users):
    task = project_objects(project, users["editor"])["task"]
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    for label in ("Face window", "Clip", "Placed at", "New audio volume"):
        assert f"<dt>{label}</dt>" in page, label


def test_a_failed_task_shows_its_reason_as_an_alert(clients, project, users):
    task = project_objects(project, users["editor"])["task"]
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.FAILED, status_message="The engine refused the clip."
    )
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    assert 'class="notice notice-error" role="alert">The engine refused the clip.' in page


def test_the_polled_status_shows_the_credits_once_done(clients, project, users):
    """The live page learns the credits with the status: no reload needed."""
    task = project_objects(project, users["editor"])["task"]
    status_url = reverse("projects:task-status", args=[task.pk])
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.PROCESSING)
    assert "Credits charged" not in clients["editor"].get(status_url).content.decode()
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.SUCCEED, credits_charged=Decimal("2.50")
    )
    assert "Credits charged: 2.50" in clients["editor"].get(status_url).content.decode()


@pytest.mark.parametrize(
    ("cure", "action"),
    [(Cure.CHANGE_CLIP, "Change the clip"), (Cure.IDENTIFY_AGAIN, "Identify again")],
)
def test_a_failure_that_a_retry_cannot_cure_offers_the_cure(clients, project, users, cure, action):
    task = project_objects(project, users["editor"])["task"]
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.FAILED, status_message="Kling refused a value.", failure_cure=cure
    )
    task.refresh_from_db()
    assert not task.can_retry and task.cure_label == action
    page = clients["editor"].get(task.get_absolute_url()).content.decode()
    assert action in page
    assert "Try again" not in page
    answer = clients["editor"].post(reverse("projects:task-retry", args=[task.pk]), follow=True)
    assert f"The same task would fail the same way. {action}, then submit again." in (
        answer.content.decode()
    )
