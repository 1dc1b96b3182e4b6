"""The "seen" mark of polled partials (projects/htmx.py), through the task status it serves:
a poll of an unchanged task is answered with "nothing new" after one query, and anything new,
or any mark that is not the row's, takes the full way with its login and membership checks."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from projects import htmx
from projects.models import LipSyncTask, Membership, TaskStatus
from tests.support.objects import project_objects

pytestmark = [pytest.mark.django_db, pytest.mark.portable]  # a plain query: both databases

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def task(project, users) -> LipSyncTask:
    task = project_objects(project, users["editor"])["task"]
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.PROCESSING)
    return task


def polling_address(html: str) -> str:
    """The address the partial polls next, as htmx reads it from the answer."""
    found = re.search(r'id="task-status"[^>]*hx-get="([^"]+)"', html)
    assert found, "the partial does not poll"
    return found.group(1).replace("&amp;", "&")


def first_poll(client, task) -> str:
    page = client.get(task.get_absolute_url())
    assert page.status_code == 200
    return polling_address(page.text)


def test_a_poll_of_an_unchanged_task_gets_nothing_new_from_one_query(clients, task):
    address = first_poll(clients["editor"], task)
    assert "?seen=" in address
    with CaptureQueriesContext(connection) as captured:
        answer = clients["editor"].get(address, **HTMX)
    assert answer.status_code == 204 and answer.content == b""
    # Neither the session nor the user is loaded: one read of the task's row.
    assert len(captured.captured_queries) == 1, [q["sql"][:60] for q in captured.captured_queries]
    assert "django_session" not in captured.captured_queries[0]["sql"]


def test_a_change_is_answered_in_full_with_a_new_mark(clients, task):
    address = first_poll(clients["editor"], task)
    LipSyncTask.objects.filter(pk=task.pk).update(status_message="Halfway there.")
    answer = clients["editor"].get(address, **HTMX)
    assert answer.status_code == 200
    assert "Halfway there." in answer.text
    following = polling_address(answer.text)
    assert following != address
    assert clients["editor"].get(following, **HTMX).status_code == 204


def test_a_finished_task_stops_the_polling(clients, task):
    address = first_poll(clients["editor"], task)
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.FAILED)
    answer = clients["editor"].get(address, **HTMX)
    assert answer.status_code == 286  # htmx's "stop polling"
    assert "hx-get" not in answer.text


def test_a_made_up_mark_takes_the_full_way(clients, task):
    address = reverse("projects:task-status", args=[task.pk]) + "?seen=made-up"
    assert clients["editor"].get(address, **HTMX).status_code == 200
    assert clients["outsider"].get(address, **HTMX).status_code == 404
    assert clients["anonymous"].get(address, **HTMX).status_code == 302  # to the login page


def test_a_mark_counts_only_for_its_own_task(clients, project, users, task):
    address = first_poll(clients["editor"], task)
    other = project_objects(project, users["editor"])["task"]
    LipSyncTask.objects.filter(pk=other.pk).update(status=TaskStatus.PROCESSING)
    mark = address.split("?", 1)[1]
    borrowed = reverse("projects:task-status", args=[other.pk]) + "?" + mark
    assert clients["editor"].get(borrowed, **HTMX).status_code == 200


def test_someone_removed_from_the_project_learns_nothing_new(clients, users, project, task):
    """Their mark only says that what they were shown is still true; once there is anything
    new, the full way refuses them."""
    address = first_poll(clients["editor"], task)
    Membership.objects.filter(project=project, user=users["editor"]).delete()
    assert clients["editor"].get(address, **HTMX).status_code == 204
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.SUCCEED)
    assert clients["editor"].get(address, **HTMX).status_code == 404


def test_a_deleted_task_is_not_found(clients, task):
    address = first_poll(clients["editor"], task)
    LipSyncTask.objects.filter(pk=task.pk).delete()
    assert clients["editor"].get(address, **HTMX).status_code == 404


def test_the_fingerprint_follows_every_column_and_knows_a_missing_row(task):
    before = htmx.row_fingerprint(LipSyncTask, task.pk)
    assert before == htmx.row_fingerprint(LipSyncTask, task.pk)
    LipSyncTask.objects.filter(pk=task.pk).update(poll_count=task.poll_count + 1)
    assert htmx.row_fingerprint(LipSyncTask, task.pk) != before
    LipSyncTask.objects.filter(pk=task.pk).delete()
    assert htmx.row_fingerprint(LipSyncTask, task.pk) is None
    assert htmx.seen_mark(LipSyncTask, task.pk) == ""


def test_only_a_get_is_answered_from_the_mark(clients, task):
    address = first_poll(clients["editor"], task)
    assert clients["editor"].post(address, **HTMX).status_code == 405
    assert clients["anonymous"].post(address, **HTMX).status_code == 302  # to the login page
