""" "Get X for this user": the one place where project membership is checked.

A user who is not a member of the object's project gets 404 (we do not confirm that the object
exists); a member whose role does not allow the action gets 403. Staff (users with the
`projects.view_all_projects` permission, e.g. through a "Staff" group) can see every project;
superusers can do everything. Django's `is_staff` flag only opens the review panel, where the
same rules apply.
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404

from projects.models import (
    AudioClip,
    DetectedFace,
    LipSyncTask,
    Membership,
    Project,
    Role,
    SourceVideo,
)

AnyUser = AbstractBaseUser | AnonymousUser
M = TypeVar("M", bound=Model)


class Ability(Enum):
    VIEW = "view"
    EDIT = "edit"  # upload, edit the timeline, submit
    REVIEW = "review"  # approve and reject results
    MANAGE = "manage"  # add and remove members


ROLE_ABILITIES: dict[str, frozenset[Ability]] = {
    Role.OWNER: frozenset(Ability),
    Role.EDITOR: frozenset({Ability.VIEW, Ability.EDIT}),
    Role.REVIEWER: frozenset({Ability.VIEW, Ability.REVIEW}),
}


def abilities_of(user: AnyUser, project: Project) -> frozenset[Ability]:
    """What `user` may do in `project`; empty when they may not even see it."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    if user.is_superuser:
        return frozenset(Ability)
    role = role_of(user, project)
    granted = ROLE_ABILITIES.get(role, frozenset()) if role else frozenset()
    # Every role can view: the permission lookup (two queries) only matters for non-members.
    if Ability.VIEW not in granted and sees_all_projects(user):
        granted = granted | {Ability.VIEW}
    return granted


def sees_all_projects(user: AnyUser) -> bool:
    return user.is_superuser or user.has_perm("projects.view_all_projects")


def role_of(user: AnyUser, project: Project) -> str | None:
    cached = getattr(project, "_role_cache", {})
    if user.pk not in cached:
        cached[user.pk] = (
            Membership.objects.filter(user_id=user.pk, project=project)
            .values_list("role", flat=True)
            .first()
        )
        project._role_cache = cached
    return cached[user.pk]


def visible_projects(user: AnyUser) -> QuerySet[Project]:
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if sees_all_projects(user):
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user)


def require(user: AnyUser, project: Project, need: Ability) -> frozenset[Ability]:
    """Raise 404 for a stranger and 403 for a member who lacks `need`; return the abilities."""
    granted = abilities_of(user, project)
    if Ability.VIEW not in granted:
        raise Http404("No such project.")
    if need not in granted:
        raise PermissionDenied(f"Your role in this project does not allow this ({need.value}).")
    return granted


def get_project_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> Project:
    project = _get_or_404(Project.objects.all(), pk=pk)
    project.abilities = require(user, project, need)
    return project


def _get_for_user(queryset: QuerySet[M], user: AnyUser, need: Ability, **lookup) -> M:
    obj = _get_or_404(queryset.select_related("project"), **lookup)
    obj.project.abilities = require(user, obj.project, need)
    return obj


def get_video_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> SourceVideo:
    return _get_for_user(SourceVideo.objects.all(), user, need, pk=pk)


def get_audio_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> AudioClip:
    return _get_for_user(AudioClip.objects.all(), user, need, pk=pk)


def get_task_for_user(user: AnyUser, pk: object, need: Ability = Ability.VIEW) -> LipSyncTask:
    return _get_for_user(LipSyncTask.objects.all(), user, need, pk=pk)


def get_face_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> DetectedFace:
    face = _get_or_404(DetectedFace.objects.select_related("video__project"), pk=pk)
    face.video.project.abilities = require(user, face.video.project, need)
    return face


def _get_or_404(queryset: QuerySet[M], **lookup) -> M:
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404("Not found.") from None
