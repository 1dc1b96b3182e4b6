"""A task waiting to be sent again while the engine cannot be reached: the page says when the
next try is and offers Cancel, which tells what was charged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects.models import LipSyncTask, TaskStatus
from tests.support.browser import log_in, screenshot
from tests.support.reviewing import finished_task_with_media

pytestmark = pytest.mark.django_db(transaction=True)

UNREACHABLE = "Kling cannot be reached (connection failed). The task will be retried."


def waiting_task(project, user, folder) -> LipSyncTask:
    """A task whose third attempt to send failed: the engine was down; the next in 4 minutes."""
    task = finished_task_with_media(project, user, folder)
    now = timezone.now()
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.SUBMITTING,
        result_file="",
        credits_charged=None,
        finished_at=None,
        engine="kling",
        sending_since=now - timedelta(minutes=2),
        create_attempts=3,
        next_poll_at=now + timedelta(minutes=4),
        status_message=f"Waiting to retry: {UNREACHABLE}",
    )
    task.refresh_from_db()
    return task


def test_waiting_task_says_when_it_tries_next_and_can_be_cancelled(page, project, users, tmp_path):
    task = waiting_task(project, users["editor"], tmp_path)
    log_in(page, "editor")
    page.goto(task.get_absolute_url())
    status = page.locator("#task-status")
    expect(status).to_contain_text("The engine did not take it yet. Next try at")
    expect(status).to_contain_text("attempt 4")
    expect(status).to_contain_text(UNREACHABLE)
    expect(status.get_by_role("button", name="Try again")).to_have_count(0)
    screenshot(page, "task-waiting-to-retry")

    status.get_by_role("button", name="Cancel").click()
    expect(
        page.get_by_text("The engine never received it, so nothing was charged.")
    ).to_be_visible()
    expect(page.locator("#task-status .badge")).to_have_text("Cancelled")
    task.refresh_from_db()
    assert task.status == TaskStatus.CANCELLED
    screenshot(page, "task-cancelled-while-waiting")
    assert page.js_errors == []
