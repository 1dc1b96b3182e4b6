"""Pages under /projects/: the list, a project's page, its members, and what is added to it
(uploads, imports from an address, speech from text), from that page or from a video's page,
where an audio clip added comes back to (`next`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from projects import selectors
from projects.access import Ability, get_project_for_user, visible_projects
from projects.forms import (
    InvitationForm,
    KlingImportForm,
    ProjectForm,
    TtsClipForm,
    UrlImportForm,
)
from projects.htmx import HtmxHttpRequest, render_polled
from projects.mediakit.wording import megabytes
from projects.models import AudioClip, AudioSource, Membership, Project
from projects.services import media, membership
from projects.services.errors import ServiceError
from projects.uploads import CappedUploadHandler

# --- The list and the project page ----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_list(request: HtmxHttpRequest) -> HttpResponse:
    form = ProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        project = membership.create_project(name=form.cleaned_data["name"], owner=request.user)
        messages.success(request, f"Project “{project.name}” created.")
        if request.htmx:
            return HttpResponseClientRedirect(project.get_absolute_url())
        return redirect(project)
    showing_archived = request.GET.get("archived") == "1"
    visible = visible_projects(request.user)
    context = {
        "projects": visible.filter(archived_at__isnull=not showing_archived).order_by(
            "-created_at"
        ),
        "archived_count": visible.filter(archived_at__isnull=False).count(),
        "showing_archived": showing_archived,
        "form": form,
        "invitations": selectors.invitations_to_answer(request.user),
    }
    template = "projects/project_list.html"
    if request.htmx and request.method == "POST":
        template += "#create-form"
    status = 400 if form.errors else 200
    return render(request, template, context, status=status)


@login_required
@require_GET
def project_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk)
    context = {
        "project": project,
        "videos": selectors.project_videos(project),
        "audio_clips": selectors.project_audio_clips(project),
        **_tasks_panel_context(project, request.GET.get("tasks_page")),
        **_decisions_notice_context(request, project),
        "credits_by_month": selectors.credits_by_month(
            project.tasks.all(), selectors.charged_calls(project)
        ),
        "can_edit": Ability.EDIT in project.abilities,
        "can_manage": Ability.MANAGE in project.abilities,
        "video_upload_url": reverse("projects:video-upload", args=[project.pk]),
        "audio_upload_url": reverse("projects:audio-upload", args=[project.pk]),
        "video_cap": media.upload_cap_for("video"),
        "audio_cap": media.upload_cap_for("audio"),
        "video_limits_text": media.upload_limits_text("video"),
        "audio_limits_text": media.upload_limits_text("audio"),
        "tts_form": TtsClipForm(),
    }
    return render(request, "projects/project_detail.html", context)


@login_required
@require_GET
def project_tasks_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The project's task list, polled as one while any listed task may still change."""
    project = get_project_for_user(request.user, pk)
    context = _tasks_panel_context(project, request.GET.get("tasks_page"))
    return render_polled(
        request,
        "projects/project_detail.html#tasks-panel",
        context,
        settled=not context["tasks_in_flight"],
    )


def _tasks_panel_context(project: Project, page_number: str | None) -> dict:
    listed = selectors.project_tasks_page(project, page_number)
    return {
        "project": project,
        "tasks": listed.tasks,
        "tasks_page": listed.page,
        "tasks_in_flight": listed.in_flight,
    }


def _decisions_notice_context(request: HtmxHttpRequest, project: Project) -> dict:
    """Review decisions on this member's tasks since their last visit (staff have none)."""
    member = selectors.membership_of(request.user, project)
    decisions = selectors.decisions_since_last_visit(member) if member else []
    return {
        "decisions": decisions[: selectors.NOTICE_LIMIT],
        "more_decisions": len(decisions) > selectors.NOTICE_LIMIT,
    }


@login_required
@require_POST
def project_archive(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Hide the project from the list (everything in it is kept); `restore` brings it back."""
    project = get_project_for_user(request.user, pk, Ability.MANAGE)
    if request.POST.get("restore") == "1":
        membership.restore_project(project, by=request.user)
        messages.success(request, f"“{project.name}” is back in your projects.")
        return redirect(project)
    membership.archive_project(project, by=request.user)
    messages.success(
        request, f"“{project.name}” is archived: hidden from your projects, nothing deleted."
    )
    return redirect("projects:list")


# --- Members --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def project_members(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(
        request.user, pk, Ability.MANAGE if request.method == "POST" else Ability.VIEW
    )
    form = InvitationForm(request.POST or None)
    sent_to = None
    if request.method == "POST" and form.is_valid():
        try:
            invitation = membership.invite(
                project,
                username=form.cleaned_data["username"],
                role=form.cleaned_data["role"],
                by=request.user,
            )
        except ServiceError as error:
            form.add_error("username", str(error))
        else:
            # The same words whether or not the account exists: nobody learns names here.
            sent_to = invitation.username
            if not request.htmx:
                messages.success(request, f"Invitation sent to “{sent_to}”.")
                return redirect("projects:members", pk=project.pk)
            form = InvitationForm()
    context = {
        "project": project,
        "form": form,
        "sent_to": sent_to,
        "memberships": selectors.project_members(project),
        "invitations": selectors.pending_invitations(project),
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
    member = get_object_or_404(Membership, pk=membership_pk, project=project)
    try:
        membership.remove_member(member, by=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{member.user.username} removed from the project.")
    return redirect("projects:members", pk=project.pk)


# --- Adding videos and audio clips -----------------------------------------------------------


@login_required
@csrf_exempt  # the CSRF check runs below, once our upload handler is in place
@require_POST
def upload(request: HtmxHttpRequest, pk: int, kind: str) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    handler = CappedUploadHandler(request, media.upload_cap_for(kind))
    request.upload_handlers = [handler]
    try:
        return csrf_protect(_receive_upload)(request, project, kind, handler)
    except MultiPartParserError:
        # E.g. a file name longer than the parser accepts in a part's headers.
        message = (
            "We could not read this upload. Give the file a shorter, simpler name and try again."
        )
        return _upload_refused(request, project, message, status=400)


def _receive_upload(request, project, kind: str, handler: CappedUploadHandler) -> HttpResponse:
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        # Django reads no body without a length; say so rather than "choose a file".
        return _upload_refused(
            request,
            project,
            "The upload did not say how large the file is, so we could not take it. "
            "Upload it from this page with your browser's file picker.",
            status=411,
        )
    uploaded = request.FILES.get("file")
    if handler.too_large:
        cap = megabytes(handler.max_bytes)
        return _upload_refused(
            request,
            project,
            f"This file is larger than {cap}, the most we accept for {kind}. "
            + (
                "Export a shorter or smaller version (H.264 MP4 at 1080p or less) and try again."
                if kind == "video"
                else "Export it as MP3 or M4A, or trim it, and try again."
            ),
            status=413,
        )
    if uploaded is None:
        return _upload_refused(request, project, "Choose a file to upload first.", status=400)
    if uploaded.size == 0:
        uploaded.close()
        return _upload_refused(request, project, "This file is empty (0 bytes).", status=400)
    back = _come_back_to(request)
    if kind == "video":
        row = media.upload_video(project=project, user=request.user, uploaded=uploaded)
        target = row.get_absolute_url()
    else:
        source = (
            AudioSource.RECORDING
            if request.POST.get("source") == AudioSource.RECORDING
            else AudioSource.UPLOAD
        )
        row = media.upload_audio(
            project=project, user=request.user, uploaded=uploaded, source=source
        )
        target = (
            _with_new_clip(back, row) if back else f"{project.get_absolute_url()}#audio-{row.pk}"
        )
    # No notice "uploaded, checking": it would outlive the check. The row's own polled
    # partial says "Checking…" and is replaced by the outcome.
    if request.htmx:
        # The project page lists audio itself: reload it rather than navigate to the same
        # address, which a browser would treat as a jump to an anchor.
        on_project_page = kind == "audio" and not back
        return (
            HttpResponseClientRefresh() if on_project_page else HttpResponseClientRedirect(target)
        )
    return redirect(target)


def _come_back_to(request: HtmxHttpRequest) -> str:
    """The page of ours a form sent from elsewhere (a video's page) asks to come back to, or
    "" for none; never another site's address."""
    try:
        target = request.POST.get("next", "")
    except MultiPartParserError:
        return ""
    is_ours = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if is_ours else ""


def _with_new_clip(page: str, clip: AudioClip) -> str:
    """`page`, told which clip was just added there (it follows the clip until it is ready)."""
    return f"{page.split('?')[0].split('#')[0]}?new_audio={clip.pk}"


def _upload_refused(request, project, message: str, *, status: int) -> HttpResponse:
    if request.htmx:
        return render(
            request, "projects/includes/upload_error.html", {"message": message}, status=status
        )
    messages.error(request, message)
    return redirect(_come_back_to(request) or project.get_absolute_url())


def _import_refused(request: HtmxHttpRequest, form: Form, project: Project) -> HttpResponse:
    """An import form's problems: into the form's own error area for htmx, the page around it
    untouched; as notices on the project page otherwise."""
    problems = [error for errors in form.errors.values() for error in errors]
    if request.htmx:
        context = {"message": " ".join(problems)}
        return render(request, "projects/includes/upload_error.html", context, status=400)
    for problem in problems:
        messages.error(request, problem)
    return redirect(project)


@login_required
@require_POST
def url_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    form = UrlImportForm(request.POST)
    if not form.is_valid():
        return _import_refused(request, form, project)
    row = media.import_from_url(
        project=project,
        user=request.user,
        url=form.cleaned_data["url"],
        kind=form.cleaned_data["kind"],
    )
    # The row's polled partial says "Fetching the file…" until the outcome replaces it.
    target = (
        row.get_absolute_url()
        if form.cleaned_data["kind"] == "video"
        else project.get_absolute_url()
    )
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_POST
def kling_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """ "Import from Kling": a Kling-made video by its address and id."""
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    form = KlingImportForm(request.POST)
    if not form.is_valid():
        return _import_refused(request, form, project)
    row = media.import_from_kling(
        project=project,
        user=request.user,
        url=form.cleaned_data["url"],
        video_id=form.cleaned_data["video_id"],
    )
    target = row.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_POST
def tts_clip_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    form = TtsClipForm(request.POST)
    back = _come_back_to(request)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back or f"{project.get_absolute_url()}#audio-heading")
    # The new clip's row says "Checking…" until the recording is there: no notice that would
    # outlive it.
    clip = media.create_tts_clip(project=project, user=request.user, data=form.cleaned_data)
    if back:
        return redirect(_with_new_clip(back, clip))
    return redirect(f"{project.get_absolute_url()}#audio-heading")
