"""The review panel: a task's page, the review queue, bulk decisions, lists and the trail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.admin.review import LipSyncTaskAdmin
from projects.models import (
    ApiCall,
    AuditEvent,
    AuditVerb,
    LipSyncTask,
    Membership,
    ReviewState,
    Role,
    TaskStatus,
)
from projects.services import membership, review
from tests.support.objects import project_objects
from tests.support.personas import make_user
from tests.support.reviewing import (
    OUTAGE_FAILURE,
    QUEUE_CHANGELIST,
    TASKS_CHANGELIST,
    another_task,
    change_url,
    finish,
    log_an_outage,
    panel,
    review_url,
)

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


# --- The review panel: the task's page -------------------------------------------------------


def test_task_page_shows_players_parameters_calls_and_history_read_only(task, staff):
    ApiCall.objects.create(
        task=task, engine="local", method="POST", endpoint="/v1/lip-sync", http_status=200
    )
    review.decide(task, staff["owner"], ReviewState.APPROVED, "First take is fine.")
    response = panel(staff["reviewer"]).get(change_url(task))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("projects:video-file", args=[task.video_id, "file"]) in html
    assert reverse("projects:task-file", args=[task.pk, "result_file"]) in html
    assert task.get_absolute_url() in html
    assert "/v1/lip-sync" in html  # the engine call log
    assert "First take is fine." in html  # the trail
    assert f'action="{review_url(task)}"' in html
    # Read-only: no editable input of the task's own fields, no save button.
    assert 'name="sound_volume"' not in html
    assert 'name="_save"' not in html
    # The app's policy forbids inline scripts: every <script> has a src.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []


def test_reviewer_approves_from_the_task_page_with_a_note(task, staff):
    response = panel(staff["reviewer"]).post(
        review_url(task), {"decision": "approved", "note": "Good."}
    )
    assert response.status_code == 302
    assert response.url == change_url(task)
    task.refresh_from_db()
    assert (task.review_state, task.review_note) == (ReviewState.APPROVED, "Good.")


def test_rejecting_without_a_note_comes_back_with_a_message(task, staff):
    client = panel(staff["reviewer"])
    response = client.post(review_url(task), {"decision": "rejected", "note": ""}, follow=True)
    assert "Write a short note before rejecting" in response.content.decode()
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


def test_staff_editor_sees_the_task_but_cannot_decide(task, staff):
    staff["editor"].is_staff = True
    staff["editor"].save(update_fields=["is_staff"])
    client = panel(staff["editor"])
    page = client.get(change_url(task)).content.decode()
    assert "lets you watch the result, not decide" in page
    assert f'action="{review_url(task)}"' not in page
    assert client.post(review_url(task), {"decision": "approved"}).status_code == 403
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


def test_the_review_endpoint_needs_the_csrf_token(task, staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff["reviewer"])
    assert client.post(review_url(task), {"decision": "approved"}).status_code == 403
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


def test_an_unfinished_task_page_says_why_it_cannot_be_reviewed(task, staff):
    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.PROCESSING)
    page = panel(staff["reviewer"]).get(change_url(task)).content.decode()
    assert "Only finished videos can be reviewed" in page
    assert f'action="{review_url(task)}"' not in page


# --- The review queue -----------------------------------------------------------------------


def test_the_queue_holds_finished_undecided_tasks_and_moves_on_after_a_decision(task, staff):
    older = task
    newer = finish(another_task(task), when=timezone.now() + timedelta(minutes=1))
    another_task(task)  # a draft: not in the queue
    decided = finish(another_task(task))
    review.decide(decided, staff["owner"], ReviewState.APPROVED)

    client = panel(staff["reviewer"])
    listed = client.get(reverse(QUEUE_CHANGELIST)).context["cl"].result_list
    assert [t.pk for t in listed] == [older.pk, newer.pk]  # oldest first

    response = client.post(review_url(older, "reviewqueuetask"), {"decision": "approved"})
    assert response.url == change_url(newer, "reviewqueuetask")
    response = client.post(
        review_url(newer, "reviewqueuetask"), {"decision": "rejected", "note": "Redo."}
    )
    assert response.url == reverse(QUEUE_CHANGELIST)


def test_a_decision_from_the_task_list_opens_the_oldest_task_awaiting_review(task, staff):
    newer = finish(another_task(task), when=timezone.now() + timedelta(minutes=1))
    client = panel(staff["reviewer"])
    response = client.post(review_url(newer), {"decision": "approved"})
    assert response.url == change_url(task)  # in the task list's own pages
    response = client.post(review_url(task), {"decision": "rejected", "note": "Redo."})
    assert response.url == change_url(task)  # nothing else awaits: stay, and say so
    page = client.get(response.url).content.decode()
    assert '<li class="info">No other task awaits review.</li>' in page


def test_next_goes_round_the_queue_in_its_order(task, staff):
    second = finish(another_task(task), when=task.finished_at + timedelta(minutes=1))
    third = finish(another_task(task), when=task.finished_at + timedelta(minutes=2))
    client = panel(staff["reviewer"])

    def next_link(shown, model="lipsynctask"):
        page = client.get(change_url(shown, model)).content.decode()
        return re.search(r'<a href="([^"]+)" data-review-next', page).group(1)

    assert next_link(task) == change_url(second)
    assert next_link(second) == change_url(third)
    assert next_link(third) == change_url(task)  # back to the oldest
    assert next_link(task, "reviewqueuetask") == change_url(second, "reviewqueuetask")
    review.decide(task, staff["owner"], ReviewState.APPROVED)
    assert next_link(task) == change_url(second)  # from a decided task: the oldest waiting


def test_the_queue_counts_tasks_awaiting_review_in_words(task, staff):
    page = panel(staff["reviewer"]).get(reverse(QUEUE_CHANGELIST)).content.decode()
    assert "1 task awaiting review" in page
    finish(another_task(task))
    page = panel(staff["reviewer"]).get(reverse(QUEUE_CHANGELIST)).content.decode()
    assert "2 tasks awaiting review" in page


def test_the_queue_is_one_click_from_the_panel_index(staff, objects):
    index = panel(staff["reviewer"]).get(reverse("admin:index")).content.decode()
    assert f'href="{reverse(QUEUE_CHANGELIST)}"' in index
    assert "Review queue" in index


# --- Bulk decisions ---------------------------------------------------------------------------


def _action(client: Client, action: str, tasks: list, **extra) -> object:
    data = {"action": action, "_selected_action": [str(t.pk) for t in tasks], **extra}
    return client.post(reverse(TASKS_CHANGELIST), data, follow=True)


def test_bulk_approve_decides_finished_tasks_and_reports_the_others(task, staff):
    second = finish(another_task(task))
    unfinished = another_task(task, status=TaskStatus.PROCESSING)
    response = _action(panel(staff["reviewer"]), "approve_selected", [task, second, unfinished])
    text = response.content.decode()
    assert "2 videos approved" in text
    assert f"Not approved: task {str(unfinished.pk)[:8]}" in text
    states = dict(LipSyncTask.objects.values_list("pk", "review_state"))
    assert states == {
        task.pk: ReviewState.APPROVED,
        second.pk: ReviewState.APPROVED,
        unfinished.pk: ReviewState.PENDING,
    }
    assert AuditEvent.objects.filter(verb=AuditVerb.APPROVED).count() == 2


def test_bulk_reject_asks_for_a_note_on_a_page_of_its_own(task, staff):
    second = finish(another_task(task))
    client = panel(staff["owner"])
    page = _action(client, "reject_selected", [task, second])
    assert page.status_code == 200
    assert "What should change?" in page.content.decode()
    assert LipSyncTask.objects.filter(review_state=ReviewState.REJECTED).count() == 0

    empty = _action(client, "reject_selected", [task, second], confirm="yes", note="  ")
    assert "Write a note for the editors." in empty.content.decode()
    assert LipSyncTask.objects.filter(review_state=ReviewState.REJECTED).count() == 0

    done = _action(client, "reject_selected", [task, second], confirm="yes", note="Too fast.")
    assert "2 videos rejected" in done.content.decode()
    notes = set(LipSyncTask.objects.values_list("review_state", "review_note"))
    assert notes == {(ReviewState.REJECTED, "Too fast.")}


def test_bulk_actions_are_not_offered_to_view_only_staff(task, staff):
    staff["editor"].is_staff = True
    staff["editor"].save(update_fields=["is_staff"])
    client = panel(staff["editor"])
    page = client.get(reverse(TASKS_CHANGELIST))
    assert "approve_selected" not in page.content.decode()
    _action(client, "approve_selected", [task])
    assert LipSyncTask.objects.get(pk=task.pk).review_state == ReviewState.PENDING


# --- Lists: search, filters, scope ------------------------------------------------------------


@pytest.mark.parametrize(
    "term",
    ["Harbour", "v.mp4", "TASK_ID_PREFIX", "engine-"],
    ids=["project", "video", "id", "engine"],
)
def test_search_finds_a_task_by_project_video_id_or_engine_id(task, staff, term):
    term = str(task.pk)[:8] if term == "TASK_ID_PREFIX" else term
    listed = panel(staff["reviewer"]).get(reverse(TASKS_CHANGELIST), {"q": term})
    assert [t.pk for t in listed.context["cl"].result_list] == [task.pk]
    nothing = panel(staff["reviewer"]).get(reverse(TASKS_CHANGELIST), {"q": "no-such-thing"})
    assert list(nothing.context["cl"].result_list) == []


def test_filters_cover_each_column_and_offer_only_the_persons_projects(task, staff):
    # A second project of the reviewer's, so that project and creator have two choices each
    # (Django hides a filter with a single choice).
    second = membership.create_project(name="Second series", owner=staff["owner"])
    Membership.objects.create(project=second, user=staff["reviewer"], role=Role.REVIEWER)
    project_objects(second, staff["owner"])
    stranger = make_user("stranger-owner", is_staff=True)
    secret = membership.create_project(name="Secret launch", owner=stranger)
    project_objects(secret, stranger)

    response = panel(staff["reviewer"]).get(reverse(TASKS_CHANGELIST))
    specs = {spec.title: spec for spec in response.context["cl"].filter_specs}
    assert set(specs) == {
        "status",
        "review state",
        "project",
        "engine",
        "credits",
        "created by",
        "created at",
        "reviewed at",
    }
    project_choices = {label for _, label in specs["project"].lookup_choices}
    assert project_choices == {"Harbour documentary", "Second series"}
    creator_choices = {label for _, label in specs["created by"].lookup_choices}
    assert creator_choices == {"editor", "owner"}
    assert "Secret launch" not in response.content.decode()
    assert "stranger-owner" not in response.content.decode()
    filtered = panel(staff["reviewer"]).get(
        reverse(TASKS_CHANGELIST), {"status__exact": "succeed", "credits": "charged"}
    )
    assert [t.pk for t in filtered.context["cl"].result_list] == [task.pk]


# --- The audit trail in the panel -------------------------------------------------------------


def test_nobody_adds_changes_or_deletes_audit_events_in_the_panel(task, staff):
    review.decide(task, staff["reviewer"], ReviewState.APPROVED, "ok")
    event = AuditEvent.objects.get()
    root = make_user("root", is_staff=True, is_superuser=True)
    client = panel(root)
    assert (
        client.get(reverse("admin:projects_auditevent_change", args=[event.pk])).status_code == 200
    )
    assert client.get(reverse("admin:projects_auditevent_add")).status_code == 403
    change = reverse("admin:projects_auditevent_change", args=[event.pk])
    assert client.post(change, {"note": "rewritten"}).status_code == 403
    delete = reverse("admin:projects_auditevent_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    listing = client.get(reverse("admin:projects_auditevent_changelist")).content.decode()
    assert "delete_selected" not in listing
    event.refresh_from_db()
    assert event.note == "ok"


def test_review_actions_are_declared_with_the_review_permission():
    for name in LipSyncTaskAdmin.actions:
        action = getattr(LipSyncTaskAdmin, name)
        assert action.allowed_permissions == ["review"]


# --- The engine's log on the task's page ------------------------------------------------------


def test_engine_log_collapses_an_outage_and_counts_from_the_log(task, staff, settings):
    settings.TIME_ZONE = "UTC"
    # The face search on the video's page, before the task: shown with the task's calls.
    ApiCall.objects.create(
        video=task.video, engine="kling", method="POST", endpoint="/v1/videos/identify-face"
    )
    log_an_outage(task, failures=95)
    html = panel(staff["reviewer"]).get(change_url(task)).content.decode()
    # 95 failed creates are one row, with the first and last time to the second and the zone.
    assert f"95 × {OUTAGE_FAILURE}" in html
    assert re.search(r">\d\d \w{3} \d{4}, 11:02:10 UTC</time> – <time[^>]*>11:06:05 UTC<", html)
    assert html.count("<tr>") <= 10, "one row per call kind, not per failure"
    # The face search and the engine's callback are rows too; counters come from the log.
    assert "POST /v1/videos/identify-face" in html and "callback received" in html
    assert "96 creates, 0 look-ups, 1 status checks, 2 face searches (95 of these failed)" in html
    assert "1 callbacks received" in html
    # The signed link in the callback's body is logged without its signature.
    assert "deadbeef" not in html and "result.mp4?***" in html


def test_history_shows_what_the_system_did(task, staff):
    from projects.services import pipeline

    LipSyncTask.objects.filter(pk=task.pk).update(status=TaskStatus.SUBMITTING)
    pipeline.fail(task, "Kling could not be reached for 1 hour; nothing was charged.", gave_up=True)
    html = panel(staff["reviewer"]).get(change_url(task)).content.decode()
    assert "gave up on" in html
    assert AuditEvent.objects.filter(task=task, verb=AuditVerb.GAVE_UP, actor=None).exists()
