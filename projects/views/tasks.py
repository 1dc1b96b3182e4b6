"""Pages under /tasks/: a lip-sync task's page, its polled status, try again, cancel, and
its result files."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects import htmx, selectors, serving
from projects.access import Ability, get_task_for_user
from projects.htmx import HtmxHttpRequest
from projects.mediakit import captions
from projects.models import LipSyncTask
from projects.services import media, tasks
from projects.services.errors import ServiceError
from projects.views.confirm import Deletion, confirm_then_delete
from projects.views.renaming import rename_then_return

TASK_FILES = {"result_file": "video/mp4", "watermarked_result_file": "video/mp4"}


def _task_context(task: LipSyncTask, status_url: str) -> dict:
    return {
        "task": task,
        "status_url": status_url,
        "project": task.project,
        "can_edit": Ability.EDIT in task.project.abilities,
        "audit_events": selectors.task_history(task),
    }


@login_required
@require_GET
def task_detail(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    status_url = _marked_status_url(pk)  # before the task is read: see htmx.seen_mark
    task = get_task_for_user(request.user, pk)
    return render(request, "projects/task_detail.html", _task_context(task, status_url))


def task_status(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    """Polled every second by the task's page: a poll that has seen the task as it still is
    gets "nothing new" without loading the session or the user (projects/htmx.py)."""
    if request.method == "GET" and htmx.is_seen_unchanged(request, LipSyncTask, pk):
        return htmx.nothing_new()
    return _task_status_in_full(request, pk)


@login_required
@require_GET
def _task_status_in_full(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    status_url = _marked_status_url(pk)
    task = get_task_for_user(request.user, pk)
    return htmx.render_polled(
        request,
        "projects/task_detail.html#status",
        _task_context(task, status_url),
        settled=task.is_final,
    )


def _marked_status_url(pk: str) -> str:
    return htmx.polling_address(reverse("projects:task-status", args=[pk]), LipSyncTask, pk)


@login_required
@require_POST
def task_retry(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    try:
        fresh = tasks.retry(task, request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect(task)
    # The new task's page shows its progress; a "Submitted" notice would outlive it.
    return HttpResponseClientRedirect(fresh.get_absolute_url()) if request.htmx else redirect(fresh)


@login_required
@require_POST
def task_continue(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    """ "Continue from this result": the result becomes a new video of the project."""
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    try:
        video = media.continue_from_result(task, user=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect(task)
    messages.success(request, "The result is now a video of this project: it is being checked.")
    target = video.get_absolute_url()
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_POST
def task_cancel(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    try:
        told = tasks.cancel(task, request.user)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, told)
    return redirect(task)


@login_required
@require_POST
def task_rename(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    """A name of one's own; an empty one brings back the name made from the task."""
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    return rename_then_return(
        request,
        rename=lambda name: tasks.rename(task, title=name, by=request.user),
        shown_as=lambda: task.display_name,
        back=task,
        required=False,
    )


@login_required
@require_http_methods(["GET", "POST"])
def task_delete(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    """GET asks for a confirmation; POST deletes the task and its result files."""
    task = get_task_for_user(request.user, pk, Ability.EDIT)
    deletion = Deletion(
        project=task.project,
        what=f"the task “{task.display_name}”",
        also="Its result videos go with it; the video and audio clip it used stay.",
        refusal=task.delete_refusal,
        back_url=task.get_absolute_url(),
        done_url=task.project.get_absolute_url(),
        delete=lambda: tasks.delete(task, by=request.user),
    )
    return confirm_then_delete(request, deletion)


@login_required
@require_GET
def task_captions(request: HtmxHttpRequest, pk: str) -> HttpResponse:
    """The result's captions as WebVTT, for the player's <track> and to download."""
    task = get_task_for_user(request.user, pk)
    if not task.has_captions:
        raise Http404("This task has no captions.")
    response = HttpResponse(
        captions.write_vtt(task.caption_cues), content_type="text/vtt; charset=utf-8"
    )
    if request.GET.get("download") == "1":
        response["Content-Disposition"] = f'attachment; filename="lipsync-{str(task.pk)[:8]}.vtt"'
    return response


@login_required
@require_GET
def task_file(request: HtmxHttpRequest, pk: str, field: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk)
    if field not in TASK_FILES:
        raise Http404("No such file.")
    download = request.GET.get("download") == "1"
    name = f"lipsync-{str(task.pk)[:8]}{'-watermarked' if 'watermark' in field else ''}.mp4"
    return serving.serve_file(
        request, getattr(task, field), TASK_FILES[field], download_name=name if download else None
    )
