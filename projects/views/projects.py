"""Projects: list, create, the project page, and its members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects import services
from projects.access import Ability, get_project_for_user, visible_projects
from projects.forms import AddMemberForm, ProjectForm, TtsClipForm
from projects.models import AuditVerb, Membership
from projects.services import audit, review
from projects.services import media as media_services
from projects.types import HtmxHttpRequest
from projects.views.media import HTMX_STOP_POLLING


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HtmxHttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = services.create_project(name=form.cleaned_data["name"], owner=request.user)
        messages.success(request, f"Project “{project.name}” created.")
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    projects = visible_projects(request.user).order_by("-created_at")
    template = "projects/project_list.html"
    if request.htmx and request.method == "POST":
        template += "#create-form"
    status = 400 if form.errors else 200
    return render(request, template, {"projects": projects, "form": form}, status=status)


@login_required
@require_GET
def project_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk)
    context = services.project_page_context(project, request.GET.get("tasks_page"))
    context.update(
        can_edit=Ability.EDIT in project.abilities,
        video_upload_url=reverse("projects:video-upload", args=[project.pk]),
        audio_upload_url=reverse("projects:audio-upload", args=[project.pk]),
        video_cap=media_services.upload_cap_for("video"),
        audio_cap=media_services.upload_cap_for("audio"),
        tts_form=TtsClipForm(),
        **review.project_page_extras(request.user, project),
    )
    return render(request, "projects/project_detail.html", context)


@login_required
@require_GET
def project_tasks_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The project's task list, polled as one while any listed task may still change."""
    project = get_project_for_user(request.user, pk)
    context = services.tasks_panel_context(project, request.GET.get("tasks_page"))
    response = render(request, "projects/project_detail.html#tasks-panel", context)
    if not context["tasks_in_flight"]:
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(
        request.user, pk, Ability.MANAGE if request.method == "POST" else Ability.VIEW
    )
    form = AddMemberForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            added = Membership.objects.create(
                project=project, user=form.cleaned_data["username"], role=form.cleaned_data["role"]
            )
            audit.record(request.user, AuditVerb.MEMBER_ADDED, project, note=_who(added))
        messages.success(request, f"{form.cleaned_data['username'].username} added.")
        if not request.htmx:
            return redirect("projects:members", pk=project.pk)
        form = AddMemberForm(project=project)
    context = {
        "project": project,
        "form": form,
        "memberships": project.memberships.select_related("user").order_by("user__username"),
        "can_manage": Ability.MANAGE in project.abilities,
    }
    template = "projects/members.html"
    if request.htmx:
        template += "#members-panel"
    return render(request, template, context, status=400 if form.errors else 200)


@login_required
@require_POST
def membership_remove(request: HtmxHttpRequest, pk: int, membership_pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.MANAGE)
    membership = get_object_or_404(Membership, pk=membership_pk, project=project)
    try:
        with transaction.atomic():
            services.remove_member(membership)
            audit.record(request.user, AuditVerb.MEMBER_REMOVED, project, note=_who(membership))
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{membership.user.username} removed from the project.")
    return redirect("projects:members", pk=project.pk)


def _who(membership: Membership) -> str:
    return f"{membership.user.get_username()} ({membership.get_role_display()})"
