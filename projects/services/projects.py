"""Projects and their members."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.paginator import Paginator
from django.db import transaction

from projects.models import Membership, Project, Role
from projects.services.errors import ServiceError


@transaction.atomic
def create_project(*, name: str, owner: AbstractBaseUser) -> Project:
    project = Project.objects.create(name=name, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


@transaction.atomic
def remove_member(membership: Membership) -> None:
    owners = Membership.objects.select_for_update().filter(
        project_id=membership.project_id, role=Role.OWNER
    )
    if membership.role == Role.OWNER and owners.count() <= 1:
        raise ServiceError("A project needs at least one owner. Make someone else an owner first.")
    membership.delete()


# Rendering a task row costs about 0.25 ms: a page of all of a busy project's tasks (hundreds)
# is slow to serve and to read, so the list is paged, newest first.
TASKS_PER_PAGE = 25


def project_page_context(project: Project, tasks_page: str | int | None = 1) -> dict:
    return {
        "project": project,
        "videos": project.videos.order_by("-created_at"),
        "audio_clips": project.audio_clips.order_by("-created_at"),
        **tasks_panel_context(project, tasks_page),
    }


def tasks_panel_context(project: Project, tasks_page: str | int | None = 1) -> dict:
    """One page of the project's tasks, and whether any of them may still change."""
    tasks = project.tasks.select_related("video").order_by("-created_at")
    page = Paginator(tasks, TASKS_PER_PAGE).get_page(tasks_page)
    listed = list(page.object_list)
    return {
        "project": project,
        "tasks": listed,
        "tasks_page": page,
        "tasks_in_flight": any(not task.is_final for task in listed),
    }
