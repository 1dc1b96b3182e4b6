"""Reviews: decisions in the service and the review panel, feedback to editors, credits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects import services
from projects.admin import LipSyncTaskAdmin
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
from projects.services import review
from tests.conftest import make_user
from tests.test_access import project_objects

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

TASKS_CHANGELIST = "admin:projects_lipsynctask_changelist"
QUEUE_CHANGELIST = "admin:projects_reviewqueuetask_changelist"


def finish(task: LipSyncTask, credits: str | None = "2.5", when: datetime | None = None):
    """Put `task` where the pipeline leaves it when the engine succeeded."""
    when = when or timezone.now()
    LipSyncTask.objects.filter(pk=task.pk).update(
        status=TaskStatus.SUCCEED,
        credits_charged=Decimal(credits) if credits is not None else None,
        finished_at=when,
        engine_task_id=f"engine-{str(task.pk)[:6]}",
    )
    task.refresh_from_db()
    return task


def another_task(task: LipSyncTask, **fields) -> LipSyncTask:
    """A sibling of `task` (same video and audio): a second take."""
    fresh = LipSyncTask.objects.create(
        project=task.project,
        video=task.video,
        audio=task.audio,
        face=task.face,
        sound_end_ms=3000,
        engine="local",
        created_by=task.created_by,
        **fields,
    )
    return fresh


@pytest.fixture
def staff(users):
    """Owner and reviewer open the review panel; the editor works in the app only."""
    for name in ("owner", "reviewer"):
        users[name].is_staff = True
        users[name].save(update_fields=["is_staff"])
    users["editor"].email = "editor@example.com"
    users["editor"].save(update_fields=["email"])
    return users


@pytest.fixture
def objects(project, staff):
    made = project_objects(project, staff["editor"])
    finish(made["task"])
    return made


@pytest.fixture
def task(objects) -> LipSyncTask:
    return objects["task"]


def panel(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review_url(task: LipSyncTask, model: str = "lipsynctask") -> str:
    return reverse(f"admin:projects_{model}_review", args=[task.pk])


def change_url(task: LipSyncTask, model: str = "lipsynctask") -> str:
    return reverse(f"admin:projects_{model}_change", args=[task.pk])


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
    with pytest.raises(services.ServiceError, match="Write a short note"):
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
    with pytest.raises(services.ServiceError, match="Only finished videos"):
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
    with pytest.raises(services.ServiceError, match="Approve"):
        review.decide(task, staff["owner"], "pending")
    with pytest.raises(services.ServiceError, match="keep it under"):
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
    second = services.create_project(name="Second series", owner=staff["owner"])
    Membership.objects.create(project=second, user=staff["reviewer"], role=Role.REVIEWER)
    project_objects(second, staff["owner"])
    stranger = make_user("stranger-owner", is_staff=True)
    secret = services.create_project(name="Secret launch", owner=stranger)
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


def test_members_added_and_removed_are_in_the_trail(project, clients, users):
    make_user("newcomer")
    url = reverse("projects:members", args=[project.pk])
    clients["owner"].post(url, {"username": "newcomer", "role": Role.EDITOR})
    membership = Membership.objects.get(user__username="newcomer")
    clients["owner"].post(reverse("projects:membership-remove", args=[project.pk, membership.pk]))
    trail = AuditEvent.objects.filter(project=project).order_by("created_at", "pk")
    assert [(e.verb, e.actor.username, e.note) for e in trail] == [
        (AuditVerb.MEMBER_ADDED, "owner", "newcomer (Editor)"),
        (AuditVerb.MEMBER_REMOVED, "owner", "newcomer (Editor)"),
    ]


def test_a_refused_removal_leaves_no_trail(project, clients):
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    clients["owner"].post(
        reverse("projects:membership-remove", args=[project.pk, owner_membership.pk])
    )
    assert Membership.objects.filter(pk=owner_membership.pk).exists()
    assert not AuditEvent.objects.exists()


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
    other = services.create_project(name="Another", owner=users["owner"])
    other_task = project_objects(other, users["owner"])["task"]
    finish(other_task, "10", march)

    rows = review.credits_by_month(LipSyncTask.objects.all())
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


def test_review_actions_are_declared_with_the_review_permission():
    for name in LipSyncTaskAdmin.actions:
        action = getattr(LipSyncTaskAdmin, name)
        assert action.allowed_permissions == ["review"]
