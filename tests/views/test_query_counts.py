"""The project page and the review panel's lists run as many SQL queries for 5 tasks as for 200."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from projects.models import (
    AuditEvent,
    AuditVerb,
    LipSyncTask,
    ReviewState,
    TaskStatus,
)
from tests.support.objects import project_objects

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

# A ceiling as well as a constant: a page that is flat but heavy is still a regression.
MAX_QUERIES = 30

PAGES = {
    "project page (editor)": ("editor", lambda p: reverse("projects:detail", args=[p.pk])),
    "project page (reviewer)": ("reviewer", lambda p: reverse("projects:detail", args=[p.pk])),
    "panel: tasks": ("reviewer", lambda p: reverse("admin:projects_lipsynctask_changelist")),
    "panel: review queue": (
        "reviewer",
        lambda p: reverse("admin:projects_reviewqueuetask_changelist"),
    ),
    "panel: audit trail": ("owner", lambda p: reverse("admin:projects_auditevent_changelist")),
    "panel: projects": ("owner", lambda p: reverse("admin:projects_project_changelist")),
}


@pytest.fixture
def seed(project, users) -> dict:
    for name in ("owner", "reviewer"):
        users[name].is_staff = True
        users[name].save(update_fields=["is_staff"])
    return project_objects(project, users["editor"])


def add_tasks(seed: dict, users: dict, count: int, start: int) -> None:
    """`count` tasks of every kind the pages show: running, failed, finished, decided, charged."""
    base = seed["task"]
    month_zero = timezone.make_aware(datetime(2026, 1, 15, 12))
    tasks, events = [], []
    for number in range(start, start + count):
        finished = number % 3 != 0
        decided = number % 2 == 0 and finished
        task_id = uuid.uuid4()
        tasks.append(
            LipSyncTask(
                id=task_id,
                external_task_id=str(task_id),
                project=base.project,
                video=base.video,
                audio=base.audio,
                face=base.face,
                sound_end_ms=3000,
                engine="local",
                created_by=users["editor"] if number % 2 else users["owner"],
                status=TaskStatus.SUCCEED if finished else TaskStatus.FAILED,
                credits_charged=Decimal("1.5") if finished else None,
                finished_at=month_zero + timedelta(days=31 * (number % 6)),
                review_state=ReviewState.APPROVED if decided else ReviewState.PENDING,
                reviewer=users["reviewer"] if decided else None,
                reviewed_at=timezone.now() if decided else None,
                review_note="Fine." if decided else "",
            )
        )
        events.append(
            AuditEvent(
                actor=users["editor"],
                verb=AuditVerb.SUBMITTED,
                project=base.project,
                task_id=task_id,
                video=base.video,
            )
        )
    LipSyncTask.objects.bulk_create(tasks)
    AuditEvent.objects.bulk_create(events)


def queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        assert response.status_code == 200, url
        response.content  # noqa: B018 - rendering is part of the cost
    return len(captured.captured_queries)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_query_count_does_not_grow_with_the_number_of_tasks(page, project, users, seed):
    persona, make_url = PAGES[page]
    client = Client()
    client.force_login(users[persona])
    url = make_url(project)

    add_tasks(seed, users, 4, start=0)  # with the seed's own task: 5
    assert LipSyncTask.objects.count() == 5
    with_5 = queries_for(client, url)
    add_tasks(seed, users, 195, start=4)
    assert LipSyncTask.objects.count() == 200
    with_200 = queries_for(client, url)

    assert with_200 == with_5, f"{page}: {with_5} queries for 5 tasks, {with_200} for 200"
    assert with_200 <= MAX_QUERIES, f"{page}: {with_200} queries"


@pytest.mark.parametrize("status", [TaskStatus.PROCESSING, TaskStatus.FAILED])
def test_the_polled_task_status_costs_four_queries_in_full(status, users, seed):
    """A task page polls its status every second. In full (the first poll, or after a change):
    the task's fingerprint for the next poll's mark, the session, its user, and the task read
    with the person's role in its project; nothing for the video or the membership apart.
    A poll of an unchanged task costs one (tests/test_htmx.py)."""
    task = seed["task"]
    LipSyncTask.objects.filter(pk=task.pk).update(status=status)
    client = Client()
    client.force_login(users["editor"])
    url = reverse("projects:task-status", args=[task.pk])
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, HTTP_HX_REQUEST="true")
        assert response.status_code in (200, 286)
        assert "Duplicate and change" in response.text or status != TaskStatus.FAILED
    assert len(captured.captured_queries) == 4, [q["sql"][:80] for q in captured.captured_queries]
