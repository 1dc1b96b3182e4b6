"""Pages under /invitations/: the invited person accepts or declines; an owner withdraws one.

Invitations are made on a project's members page (views/projects.py); the rules live in
services/membership.py.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from projects.access import get_invitation_addressed_to, get_invitation_for_user
from projects.htmx import HtmxHttpRequest
from projects.services import membership
from projects.services.errors import ServiceError


@login_required
@require_POST
def invitation_accept(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_addressed_to(request.user, pk)
    try:
        membership.accept(invitation, user=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("projects:list")
    messages.success(
        request,
        f"You joined “{invitation.project.name}” as {invitation.get_role_display().lower()}.",
    )
    return redirect(invitation.project)


@login_required
@require_POST
def invitation_decline(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_addressed_to(request.user, pk)
    try:
        membership.decline(invitation, user=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"You declined the invitation to “{invitation.project.name}”.")
    return redirect("projects:list")


@login_required
@require_POST
def invitation_withdraw(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    invitation = get_invitation_for_user(request.user, pk)
    try:
        membership.withdraw(invitation, by=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"The invitation to {invitation.username} was withdrawn.")
    return redirect("projects:members", pk=invitation.project_id)
