"""The editor: the face picker, the timeline form, quick mode, and the task pages."""

from __future__ import annotations

import hmac
import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from projects import services
from projects.access import (
    Ability,
    get_face_for_user,
    get_project_for_user,
    get_task_for_user,
    get_video_for_user,
)
from projects.engines import limits
from projects.forms import QuickTaskForm, TaskForm, TtsClipForm, basic_video_problems
from projects.models import LipSyncTask, MediaStatus
from projects.services import faces as face_services
from projects.services import lipsync, pipeline
from projects.services import media as media_services
from projects.types import HtmxHttpRequest
from projects.views.media import HTMX_STOP_POLLING, video_context

TIMELINE_RULES = {
    "min_crop_ms": limits.MIN_CROP_MS,
    "min_overlap_ms": limits.MIN_FACE_OVERLAP_MS,
    "min_audio_ms": limits.AUDIO.min_duration_ms,
    "max_audio_ms": limits.AUDIO.max_duration_ms,
    "volume_max": limits.VOLUME_RANGE[1],
}


# --- The video workspace: faces and the timeline ----------------------------------------------


def workspace_context(request, video, form: TaskForm | None = None) -> dict:
    faces = face_services.current_faces(video)
    if form is None:
        initial = _initial_from(request, video, faces)
        form = TaskForm(initial=initial, video=video, faces=faces)
    selected = form["face"].value()
    context = video_context(video)
    context.update(
        faces=faces,
        faces_state=face_services.faces_state(video),
        selected_face=next((f for f in faces if str(f.pk) == str(selected)), None),
        audio_clips=list(form.fields["audio"].queryset),
        form=form,
        rules=TIMELINE_RULES,
    )
    # The timeline has its own player (it routes the sound for "listen to the mix"); the
    # facts card then shows the poster instead of a second player.
    context["timeline_shown"] = bool(
        context["can_edit"] and context["faces"] and context["audio_clips"]
    )
    return context


def _initial_from(request, video, faces) -> dict:
    """A fresh form, or one started from an older task ("Duplicate") or a face just picked."""
    initial: dict = {"sound_volume": 1.0, "original_audio_volume": 1.0, "sound_start": 0}
    source = request.GET.get("from")
    if source:
        try:
            task = get_task_for_user(request.user, source)
        except Http404:
            task = None
        if task is not None and task.video_id == video.pk:
            initial.update(lipsync.duplicate_initial(task))
    face = request.GET.get("face")
    if face and any(str(f.pk) == face for f in faces):
        initial["face"] = face
    return initial


@login_required
@require_http_methods(["GET", "POST"])
def video_workspace(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    need = Ability.EDIT if request.method == "POST" else Ability.VIEW
    video = get_video_for_user(request.user, pk, need)
    if request.method == "GET":
        return render(request, "projects/video_workspace.html", workspace_context(request, video))
    form = TaskForm(request.POST, video=video, faces=face_services.current_faces(video))
    if form.is_valid():
        try:
            task = lipsync.create_advanced(video=video, user=request.user, data=form.cleaned_data)
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Submitted. This page shows the progress.")
            if request.htmx:
                return HttpResponseClientRedirect(task.get_absolute_url())
            return redirect(task)
    context = workspace_context(request, video, form)
    return render(request, "projects/video_workspace.html", context, status=400)


@login_required
@require_GET
def faces_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk)
    response = render(
        request, "projects/video_workspace.html#faces", workspace_context(request, video)
    )
    if face_services.faces_state(video).get("state") != "running":
        # Only a page that was waiting polls here: reload it so the timeline appears too.
        response.status_code = HTMX_STOP_POLLING
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def identify_again(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    if video.status != MediaStatus.READY:
        messages.error(request, "This video is not ready yet; wait until it has been checked.")
    elif not face_services.request_identification(video):
        messages.info(request, "We are already looking for faces in this video.")
    if request.htmx:
        return render(
            request, "projects/video_workspace.html#faces", workspace_context(request, video)
        )
    return redirect(video)


@login_required
@require_POST
def face_select(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Pick a face: htmx tells the timeline with an event; without JS, reload with it chosen."""
    face = get_face_for_user(request.user, pk)
    video = face.video
    if not request.htmx:
        return redirect(f"{reverse('projects:video', args=[video.pk])}?face={face.pk}#timeline")
    request.GET = request.GET.copy()
    request.GET["face"] = str(face.pk)
    response = render(
        request, "projects/video_workspace.html#faces", workspace_context(request, video)
    )
    detail = {"id": face.pk, "start_ms": face.start_ms, "end_ms": face.end_ms}
    return trigger_client_event(response, "faceSelected", detail)


# --- Quick mode ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def quick_mode(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    need = Ability.EDIT if request.method == "POST" else Ability.VIEW
    video = get_video_for_user(request.user, pk, need)
    form = QuickTaskForm(request.POST or None, video=video)
    if request.method == "POST" and form.is_valid():
        try:
            task = lipsync.create_quick(video=video, user=request.user, data=form.cleaned_data)
        except services.ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Submitted. This page shows the progress.")
            return (
                HttpResponseClientRedirect(task.get_absolute_url())
                if request.htmx
                else redirect(task)
            )
    context = {
        "video": video,
        "project": video.project,
        "form": form,
        "problems": basic_video_problems(video),
        "can_edit": Ability.EDIT in video.project.abilities,
    }
    return render(request, "projects/quick_mode.html", context, status=400 if form.errors else 200)


# --- Speech from text --------------------------------------------------------------------------


@login_required
@require_POST
def tts_clip_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    form = TtsClipForm(request.POST)
    if form.is_valid():
        media_services.create_tts_clip(project=project, user=request.user, data=form.cleaned_data)
        messages.success(request, "We are recording the speech now; it appears under Audio clips.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(f"{project.get_absolute_url()}#audio-heading")


# --- The task page --------------------------------------------------------------------------------


def task_context(task: LipSyncTask) -> dict:
    return {
        "task": task,
        "project": task.project,
        "can_edit": Ability.EDIT in task.project.abilities,
        "audit_events": task.audit_events.select_related("actor").order_by("created_at"),
    }


@login_required
@require_GET
def task_detail(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk)
    return render(request, "projects/task_detail.html", task_context(task))


@login_required
@require_GET
def task_status(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk)
    response = render(request, "projects/task_detail.html#status", task_context(task))
    if task.is_final:
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
@require_POST
def task_retry(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    try:
        fresh = lipsync.retry(task, request.user)
    except services.ServiceError as error:
        messages.error(request, str(error))
        return redirect(task)
    messages.success(request, "Submitted again with the same settings.")
    return HttpResponseClientRedirect(fresh.get_absolute_url()) if request.htmx else redirect(fresh)


@login_required
@require_POST
def task_cancel(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    try:
        lipsync.cancel(task, request.user)
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Cancelled. Nothing was sent to the engine.")
    return redirect(task)


# --- The engine's callback ----------------------------------------------------------------------


@csrf_exempt  # the engine cannot send our CSRF token; the per-task secret in the URL guards it
@require_POST
def engine_callback(request: HtmxHttpRequest, pk: str, token: str) -> HttpResponse:
    """A hint that the task changed: we confirm by asking the engine with our own credentials."""
    task = LipSyncTask.objects.filter(pk=pk).only("pk", "callback_token", "status").first()
    if task is None or not hmac.compare_digest(task.callback_token.encode(), token.encode()):
        raise Http404("No such task.")
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return JsonResponse({"ok": False, "error": "The body is not JSON."}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"ok": False, "error": "The body must be a JSON object."}, status=400)
    scheduled = task.status in pipeline.AT_ENGINE and pipeline.callback_hint(task)
    return JsonResponse({"ok": True, "scheduled": bool(scheduled)})
