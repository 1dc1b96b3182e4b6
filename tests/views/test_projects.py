"""Accounts and projects, used as a person would through the pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from projects.models import Membership, Project, Role
from tests.support.personas import PASSWORD

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


def test_login_page_then_login_lands_on_projects(client, users):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b'name="username"' in page.content

    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == reverse("projects:list")


def test_wrong_password_says_so_plainly(client, users):
    response = client.post(reverse("login"), {"username": "owner", "password": "nope"})
    assert response.status_code == 200
    assert b"do not match" in response.content


def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("projects:list"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_create_project_makes_creator_owner(clients, users):
    response = clients["editor"].post(reverse("projects:list"), {"name": "  Summer   promo "})
    project = Project.objects.get()
    assert response.status_code == 302 and response.url == project.get_absolute_url()
    assert project.name == "Summer promo"
    assert Membership.objects.get(project=project).role == Role.OWNER
    assert clients["editor"].get(project.get_absolute_url()).status_code == 200


def test_create_project_with_htmx_redirects_client(clients):
    response = clients["owner"].post(
        reverse("projects:list"), {"name": "Via htmx"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert response["HX-Redirect"] == Project.objects.get().get_absolute_url()


def test_blank_project_name_is_refused_and_nothing_saved(clients):
    response = clients["owner"].post(
        reverse("projects:list"), {"name": "   "}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert b"project name" in response.content.lower() or b"required" in response.content
    assert not Project.objects.exists()


def test_projects_list_shows_only_my_projects(clients, project):
    link = f'href="{project.get_absolute_url()}"'.encode()
    assert link in clients["editor"].get(reverse("projects:list")).content
    assert link not in clients["outsider"].get(reverse("projects:list")).content


def test_owner_invites_by_username_and_nobody_joins_before_accepting(clients, project, users):
    url = reverse("projects:members", args=[project.pk])
    response = clients["owner"].post(url, {"username": "OUTSIDER", "role": Role.OWNER})
    assert response.status_code == 302
    assert not Membership.objects.filter(project=project, user=users["outsider"]).exists()
    assert clients["outsider"].get(project.get_absolute_url()).status_code == 404
    listed = clients["outsider"].get(reverse("projects:list")).content.decode()
    assert f'href="{project.get_absolute_url()}"' not in listed
    assert "You are invited" in listed and project.name in listed


def test_known_and_unknown_names_get_the_same_answer(clients, project, users):
    """Apart from the name itself, the panel after inviting "outsider" (an account) and after
    inviting "ghost" (none) is the same page; the pending list holds both alike."""
    url = reverse("projects:members", args=[project.pk])
    panels = {}
    for name in ("outsider", "ghost"):
        answer = clients["owner"].post(
            url, {"username": name, "role": Role.EDITOR}, HTTP_HX_REQUEST="true"
        )
        assert answer.status_code == 200
        panels[name] = answer.content.decode()
    assert "Invitation sent to “ghost”." in panels["ghost"]
    assert "<td>outsider</td>" in panels["ghost"] and "<td>ghost</td>" in panels["ghost"]

    def without_name_and_pending_list(panel: str, name: str) -> str:
        panel = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", panel)
        panel = re.sub(r'<h3 id="invitations-heading">.*?</table>', "", panel, flags=re.DOTALL)
        return panel.replace(f"“{name}”", "“NAME”")

    assert without_name_and_pending_list(panels["outsider"], "outsider") == (
        without_name_and_pending_list(panels["ghost"], "ghost")
    )


def test_inviting_a_member_explains_inside_the_form(clients, project):
    url = reverse("projects:members", args=[project.pk])
    again = clients["owner"].post(
        url, {"username": "editor", "role": Role.EDITOR}, HTTP_HX_REQUEST="true"
    )
    assert again.status_code == 400
    page = again.content.decode()
    assert page.strip().startswith('<section class="card" id="members-panel"')
    assert "already a member" in page and 'class="error"' in page
    assert Membership.objects.filter(project=project).count() == 3


def test_editor_cannot_invite(clients, project):
    url = reverse("projects:members", args=[project.pk])
    response = clients["editor"].post(url, {"username": "outsider", "role": Role.OWNER})
    assert response.status_code == 403
    assert not Membership.objects.filter(project=project, user__username="outsider").exists()


def test_last_owner_cannot_be_removed(clients, project):
    owner_membership = Membership.objects.get(project=project, role=Role.OWNER)
    url = reverse("projects:membership-remove", args=[project.pk, owner_membership.pk])
    response = clients["owner"].post(url, follow=True)
    assert b"at least one owner" in response.content
    assert Membership.objects.filter(pk=owner_membership.pk).exists()


def test_membership_is_unique_in_the_database(project, users):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(project=project, user=users["editor"], role=Role.OWNER)


def _tasks(project, user, count: int, status: str):
    from django.core.files.base import ContentFile

    from projects.models import LipSyncTask, SourceVideo

    video = SourceVideo(project=project, original_name="v.mp4", created_by=user, status="ready")
    video.file.save("v.mp4", ContentFile(b"video bytes"), save=False)
    video.save()
    return [
        LipSyncTask.objects.create(
            project=project, video=video, kind="basic", engine="local", status=status,
            created_by=user,
        )
        for _ in range(count)
    ]  # fmt: skip


def test_task_list_polls_as_one_while_a_task_may_change(clients, project, users):
    from projects.models import LipSyncTask

    (task,) = _tasks(project, users["editor"], 1, "processing")
    url = reverse("projects:tasks-panel", args=[project.pk])
    page = clients["reviewer"].get(project.get_absolute_url()).content.decode()
    assert f'hx-get="{url}"' in page
    assert clients["reviewer"].get(url).status_code == 200
    LipSyncTask.objects.filter(pk=task.pk).update(status="succeed")
    final = clients["reviewer"].get(url)
    assert final.status_code == 286  # htmx stops polling
    assert f'id="task-badge-{task.pk}">Done<' in final.content.decode()


def test_task_list_is_paged(clients, project, users):
    from projects.selectors import TASKS_PER_PAGE

    _tasks(project, users["editor"], TASKS_PER_PAGE + 3, "succeed")
    first = clients["editor"].get(project.get_absolute_url()).content.decode()
    assert first.count('id="task-badge-') == TASKS_PER_PAGE
    assert "Older tasks" in first and f"of {TASKS_PER_PAGE + 3}" in first
    second = clients["editor"].get(project.get_absolute_url() + "?tasks_page=2").content.decode()
    assert second.count('id="task-badge-') == 3 and "Newer tasks" in second
