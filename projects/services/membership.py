"""Projects and who belongs to them: creating a project with its owner, inviting people,
their answers, and removing members. Nobody joins a project without accepting an invitation.

An owner invites a username. Whether such an account exists is never told to the owner: the
invitation is kept as typed and the answer is always "Invitation sent" (a mail, when the
account exists and mail is delivered, goes from a worker, so even the answer's timing is the
same). The invited person sees it in the app and accepts or declines. Every step is recorded
in the audit trail.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from projects import background
from projects.access import invitations_addressed_to
from projects.models import (
    AuditVerb,
    Invitation,
    InvitationState,
    Membership,
    Project,
    Role,
)
from projects.services import audit, mail
from projects.services.errors import ServiceError


@transaction.atomic
def create_project(*, name: str, owner: AbstractBaseUser) -> Project:
    project = Project.objects.create(name=name, created_by=owner)
    Membership.objects.create(project=project, user=owner, role=Role.OWNER)
    return project


# --- Invitations ------------------------------------------------------------------------------


@transaction.atomic
def invite(project: Project, *, username: str, role: str, by: AbstractBaseUser) -> Invitation:
    """Invite `username` to `project` as `role`, or renew the open invitation to that name.

    Refused only for someone already a member (the owner sees the members anyway).
    """
    username = username.strip()
    if Membership.objects.filter(project=project, user__username__iexact=username).exists():
        raise ServiceError(f"{username} is already a member. Change their role in the list.")
    invitation = (
        Invitation.objects.select_for_update()
        .filter(project=project, username__iexact=username, state=InvitationState.PENDING)
        .first()
    )
    if invitation is None:
        invitation = Invitation(project=project, username=username)
    invitation.role, invitation.invited_by, invitation.created_at = role, by, timezone.now()
    invitation.save()
    audit.record(by, AuditVerb.INVITED, project, note=_invited(invitation))
    background.mail_invitation.delay_on_commit(invitation.pk)
    return invitation


def accept(invitation: Invitation, *, user: AbstractBaseUser) -> Membership:
    """Join the project in the invitation's role (the invitation is `user`'s and still open)."""
    with transaction.atomic():
        locked = _open_invitation_of(user, invitation.pk)
        member, _created = Membership.objects.get_or_create(
            project=locked.project, user=user, defaults={"role": locked.role}
        )
        _answer(locked, InvitationState.ACCEPTED)
        audit.record(user, AuditVerb.INVITATION_ACCEPTED, locked.project, note=_invited(locked))
    return member


@transaction.atomic
def decline(invitation: Invitation, *, user: AbstractBaseUser) -> None:
    locked = _open_invitation_of(user, invitation.pk)
    _answer(locked, InvitationState.DECLINED)
    audit.record(user, AuditVerb.INVITATION_DECLINED, locked.project, note=_invited(locked))


@transaction.atomic
def withdraw(invitation: Invitation, *, by: AbstractBaseUser) -> None:
    locked = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if locked.state != InvitationState.PENDING:
        raise ServiceError(f"The invitation to {locked.username} was already answered.")
    _answer(locked, InvitationState.WITHDRAWN)
    audit.record(by, AuditVerb.INVITATION_WITHDRAWN, locked.project, note=_invited(locked))


def _open_invitation_of(user: AbstractBaseUser, pk: int) -> Invitation:
    locked = (
        invitations_addressed_to(user)
        .select_for_update()
        .select_related("project")
        .filter(pk=pk)
        .first()
    )
    if locked is None:
        raise ServiceError("This invitation has been answered, withdrawn or has lapsed.")
    return locked


def _answer(invitation: Invitation, state: str) -> None:
    invitation.state, invitation.answered_at = state, timezone.now()
    invitation.save(update_fields=["state", "answered_at"])


def _invited(invitation: Invitation) -> str:
    return f"{invitation.username} ({invitation.get_role_display()})"


def mail_invitation(invitation_pk: int) -> None:
    """Tell the invited person by mail, when their account exists, has an address, and mail
    is delivered (on the worker: see `invite`)."""
    invitation = (
        Invitation.objects.select_related("project", "invited_by").filter(pk=invitation_pk).first()
    )
    if invitation is None or not invitation.is_open or not mail.is_delivered():
        return
    person = (
        get_user_model()
        .objects.filter(username__iexact=invitation.username, is_active=True)
        .exclude(email="")
        .first()
    )
    if person is None:
        return
    where = mail.absolute_url(reverse("projects:list"))
    body = (
        f"Hello {person.get_username()},\n\n"
        f"{invitation.invited_by.get_username()} invited you to the lip-sync project "
        f"“{invitation.project.name}” as {invitation.get_role_display().lower()}.\n\n"
        + (f"Accept or decline it on your projects page: {where}\n" if where else
           "Accept or decline it on your projects page in lipsync-web.\n")
        + f"The invitation lapses on {invitation.expires_at:%d %B %Y} if unanswered.\n"
    )  # fmt: skip
    mail.send_quietly(
        f"Invitation to “{' '.join(invitation.project.name.split())}”", body, person.email
    )


# --- Members ----------------------------------------------------------------------------------


@transaction.atomic
def remove_member(membership: Membership, *, by: AbstractBaseUser) -> None:
    """Remove a member; a project keeps at least one owner."""
    owners = Membership.objects.select_for_update().filter(
        project_id=membership.project_id, role=Role.OWNER
    )
    if membership.role == Role.OWNER and owners.count() <= 1:
        raise ServiceError("A project needs at least one owner. Make someone else an owner first.")
    membership.delete()
    audit.record(by, AuditVerb.MEMBER_REMOVED, membership.project, note=_who(membership))


@transaction.atomic
def archive_project(project: Project, *, by: AbstractBaseUser) -> None:
    """Hide the project from the project list; everything in it is kept."""
    if project.is_archived:
        return
    project.archived_at = timezone.now()
    project.save(update_fields=["archived_at"])
    audit.record(by, AuditVerb.ARCHIVED, project)


@transaction.atomic
def restore_project(project: Project, *, by: AbstractBaseUser) -> None:
    if not project.is_archived:
        return
    project.archived_at = None
    project.save(update_fields=["archived_at"])
    audit.record(by, AuditVerb.RESTORED, project)


def _who(membership: Membership) -> str:
    return f"{membership.user.get_username()} ({membership.get_role_display()})"
