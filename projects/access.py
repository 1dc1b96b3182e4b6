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
from django.db.models import Model, OuterRef, QuerySet, Subquery
from django.http import Http404

from projects.models import (
    AudioClip,
    DetectedFace,
    Dub,
    Invitation,
    LipSyncTask,
    Membership,
    Person,
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
REVIEW_ROLES = frozenset(
    role for role, granted in ROLE_ABILITIES.items() if Ability.REVIEW in granted
)


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


def reviewable_projects(user: AnyUser) -> QuerySet[Project]:
    """The projects in which `user` may approve and reject (every project for superusers)."""
    if not user.is_authenticated or not user.is_active:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user, memberships__role__in=REVIEW_ROLES)


def may_review(
    user: AnyUser, project_id: int, reviewable_ids: frozenset[int] | None = None
) -> bool:
    """`reviewable_ids`, when given, spares a query per task in a bulk decision."""
    if user.is_superuser and user.is_active:
        return True
    if reviewable_ids is not None:
        return project_id in reviewable_ids
    return reviewable_projects(user).filter(pk=project_id).exists()


def uses_review_panel(user: AnyUser) -> bool:
    """The review panel (Django's admin) is for staff who belong to a project or see them all.

    `is_staff` alone opens nothing: what a person sees there is scoped by their projects.
    """
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_staff
        and (sees_all_projects(user) or user.memberships.exists())
    )


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
    project = _get_or_404(_with_viewer_role(Project.objects.all(), user, "pk"), pk=pk)
    _keep_viewer_role(project, user, project)
    project.abilities = require(user, project, need)
    return project


def _get_for_user(queryset: QuerySet[M], user: AnyUser, need: Ability, **lookup) -> M:
    queryset = _with_viewer_role(queryset.select_related("project"), user, "project_id")
    obj = _get_or_404(queryset, **lookup)
    _keep_viewer_role(obj, user, obj.project)
    obj.project.abilities = require(user, obj.project, need)
    return obj


def _with_viewer_role(queryset: QuerySet[M], user: AnyUser, project_field: str) -> QuerySet[M]:
    """The row with the user's role in its project read in the same query: polled partials
    (a task's status every second) then cost one query fewer."""
    role = Membership.objects.filter(user_id=user.pk, project_id=OuterRef(project_field))
    return queryset.annotate(viewer_role=Subquery(role.values("role")[:1]))


def _keep_viewer_role(obj: Model, user: AnyUser, project: Project) -> None:
    project._role_cache = {**getattr(project, "_role_cache", {}), user.pk: obj.viewer_role}


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


def get_invitation_for_user(user: AnyUser, pk: int, need: Ability = Ability.MANAGE) -> Invitation:
    """An invitation seen from its project's side (to withdraw it)."""
    return _get_for_user(Invitation.objects.all(), user, need, pk=pk)


def invitations_addressed_to(user: AnyUser) -> QuerySet[Invitation]:
    """The open invitations to `user`'s name; an inactive or anonymous user has none."""
    if not user.is_authenticated or not user.is_active:
        return Invitation.objects.none()
    return Invitation.open_ones().filter(username__iexact=user.get_username())


def get_invitation_addressed_to(user: AnyUser, pk: int) -> Invitation:
    """An open invitation to `user`, to accept or decline; 404 for anyone else's."""
    return _get_or_404(invitations_addressed_to(user).select_related("project"), pk=pk)


def _get_or_404(queryset: QuerySet[M], **lookup) -> M:
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError):
        raise Http404("Not found.") from None


def get_dub_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> Dub:
    return _get_for_user(Dub.objects.select_related("source"), user, need, pk=pk)


def get_person_for_user(user: AnyUser, pk: int, need: Ability = Ability.VIEW) -> Person:
    person = _get_or_404(Person.objects.select_related("video__project"), pk=pk)
    person.video.project.abilities = require(user, person.video.project, need)
    return person
