"""Videos and audio clips: upload, URL import, status, "fix it for me", and serving the files."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect, HttpResponseClientRefresh

from projects import medialinks, services
from projects.access import (
    Ability,
    get_audio_for_user,
    get_face_for_user,
    get_project_for_user,
    get_task_for_user,
    get_video_for_user,
)
from projects.forms import UrlImportForm
from projects.mediakit.wording import megabytes
from projects.models import AudioSource, MediaStatus
from projects.services import media as media_services
from projects.types import HtmxHttpRequest
from projects.uploads import CappedUploadHandler

# Polling partials answer 286 once nothing more will change: htmx then stops polling.
HTMX_STOP_POLLING = 286


@login_required
@csrf_exempt  # the CSRF check runs below, once our upload handler is in place
@require_POST
def upload(request: HtmxHttpRequest, pk: int, kind: str) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    handler = CappedUploadHandler(request, media_services.upload_cap_for(kind))
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
    if kind == "video":
        row = media_services.upload_video(project=project, user=request.user, uploaded=uploaded)
        target = row.get_absolute_url()
    else:
        source = (
            AudioSource.RECORDING
            if request.POST.get("source") == AudioSource.RECORDING
            else AudioSource.UPLOAD
        )
        row = media_services.upload_audio(
            project=project, user=request.user, uploaded=uploaded, source=source
        )
        target = project.get_absolute_url() + f"#audio-{row.pk}"
    messages.success(request, f"“{row.original_name}” uploaded. We are checking it now.")
    if request.htmx:
        # The audio list is on the page the upload came from: reload it rather than navigate
        # to the same address, which a browser would treat as a jump to an anchor.
        return (
            HttpResponseClientRefresh() if kind == "audio" else HttpResponseClientRedirect(target)
        )
    return redirect(target)


def _upload_refused(request, project, message: str, *, status: int) -> HttpResponse:
    if request.htmx:
        return render(
            request, "projects/includes/upload_error.html", {"message": message}, status=status
        )
    messages.error(request, message)
    response = redirect(project)
    return response


@login_required
@require_POST
def url_import(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    project = get_project_for_user(request.user, pk, Ability.EDIT)
    form = UrlImportForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(project)
    row = media_services.import_from_url(
        project=project,
        user=request.user,
        url=form.cleaned_data["url"],
        kind=form.cleaned_data["kind"],
    )
    messages.success(request, "We are fetching that address now; this page will update.")
    target = (
        row.get_absolute_url()
        if form.cleaned_data["kind"] == "video"
        else project.get_absolute_url()
    )
    return HttpResponseClientRedirect(target) if request.htmx else redirect(target)


@login_required
@require_GET
def video_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk)
    response = render(request, "projects/video_detail.html#video-facts", video_context(video))
    if video.status in (MediaStatus.READY, MediaStatus.REJECTED):
        response.status_code = HTMX_STOP_POLLING
    if video.status == MediaStatus.READY:
        response["HX-Refresh"] = "true"  # the face picker and timeline appear with the page
    return response


def video_context(video) -> dict:
    return {
        "video": video,
        "project": video.project,
        "can_edit": Ability.EDIT in video.project.abilities,
        "derived": video.project.videos.filter(media_info__derived_from=video.pk),
    }


@login_required
@require_POST
def video_fix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    trim_start_ms = _seconds_to_ms(request.POST.get("trim_start", "0"))
    try:
        copy = media_services.request_video_fix(
            video, user=request.user, trim_start_ms=trim_start_ms
        )
    except services.ServiceError as error:
        messages.error(request, str(error))
        return redirect(video)
    messages.success(request, "We are making a copy that meets the engine's limits.")
    return HttpResponseClientRedirect(copy.get_absolute_url()) if request.htmx else redirect(copy)


@login_required
@require_GET
def audio_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk)
    context = {
        "clip": clip,
        "project": clip.project,
        "can_edit": Ability.EDIT in clip.project.abilities,
    }
    response = render(request, "projects/includes/audio_row.html", context)
    if clip.status in (MediaStatus.READY, MediaStatus.REJECTED):
        response.status_code = HTMX_STOP_POLLING
    return response


@login_required
@require_POST
def audio_fix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk, Ability.EDIT)
    trim_start_ms = _seconds_to_ms(request.POST.get("trim_start", "0"))
    try:
        media_services.request_audio_fix(clip, user=request.user, trim_start_ms=trim_start_ms)
    except services.ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request, "We are making a copy of the clip that meets the engine's limits."
        )
    return redirect(clip.project)


def _seconds_to_ms(raw: str) -> int:
    try:
        return max(0, round(float(raw) * 1000))
    except (TypeError, ValueError):
        return 0


# --- Serving files --------------------------------------------------------------------------

VIDEO_FILES = {"file": "video/mp4", "poster": "image/jpeg", "thumbnail_strip": "image/jpeg"}
TASK_FILES = {"result_file": "video/mp4", "watermarked_result_file": "video/mp4"}


@login_required
@require_GET
def video_file(request: HtmxHttpRequest, pk: int, field: str) -> HttpResponse:
    video = get_video_for_user(request.user, pk)
    if field not in VIDEO_FILES:
        raise Http404("No such file.")
    content_type = VIDEO_FILES[field]
    if field == "file":
        content_type = (
            "video/quicktime"
            if video.media_info.get("probe", {}).get("container") == "mov"
            else "video/mp4"
        )
    return medialinks.serve_file(request, getattr(video, field), content_type)


@login_required
@require_GET
def audio_file(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk)
    container = clip.media_info.get("probe", {}).get("container")
    return medialinks.serve_file(request, clip.file, medialinks.audio_content_type(container))


@login_required
@require_GET
def face_file(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    face = get_face_for_user(request.user, pk)
    return medialinks.serve_file(request, face.thumbnail, "image/jpeg")


@login_required
@require_GET
def task_file(request: HtmxHttpRequest, pk: str, field: str) -> HttpResponse:
    task = get_task_for_user(request.user, pk)
    if field not in TASK_FILES:
        raise Http404("No such file.")
    download = request.GET.get("download") == "1"
    name = f"lipsync-{str(task.pk)[:8]}{'-watermarked' if 'watermark' in field else ''}.mp4"
    return medialinks.serve_file(
        request, getattr(task, field), TASK_FILES[field], download_name=name if download else None
    )


@require_GET
def media_link(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The engine's way in: a signed, expiring link to exactly one file; no login."""
    granted = medialinks.unsign(token)
    if granted is None:
        raise Http404("This link is invalid or has expired.")
    name, content_type = granted
    return medialinks.serve_stored(request, default_storage, name, content_type)
