"""Pages under /videos/: a video's page (its facts, its faces, the timeline, and audio added
from there), the polled facts while it is checked, "fix it for me", quick mode, and the
video's files."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, trigger_client_event

from projects import selectors, serving
from projects.access import (
    Ability,
    get_face_for_user,
    get_task_for_user,
    get_video_for_user,
)
from projects.engines import limits
from projects.forms import (
    FixForm,
    QuickTaskForm,
    TaskForm,
    TtsClipForm,
    basic_video_problems,
)
from projects.htmx import HtmxHttpRequest, render_polled
from projects.models import DetectedFace, SourceVideo
from projects.services import faces, media, tasks
from projects.services.errors import ServiceError
from projects.views.confirm import Deletion, confirm_then_delete
from projects.views.renaming import rename_then_return

# The timeline's rules for the browser, from the same limits the server checks.
TIMELINE_RULES = {
    "min_crop_ms": limits.MIN_CROP_MS,
    "min_overlap_ms": limits.MIN_FACE_OVERLAP_MS,
    "min_audio_ms": limits.AUDIO.min_duration_ms,
    "max_audio_ms": limits.AUDIO.max_duration_ms,
    "volume_max": limits.VOLUME_RANGE[1],
}
# The video itself is served as what the probe found it to be (`video.content_type`).
VIDEO_FILES = {"file": None, "poster": "image/jpeg", "thumbnail_strip": "image/jpeg"}


# --- The video's page: facts, faces and the timeline ----------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def video_workspace(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    need = Ability.EDIT if request.method == "POST" else Ability.VIEW
    video = get_video_for_user(request.user, pk, need)
    if request.method == "GET":
        return render(request, "projects/video_workspace.html", _workspace_context(request, video))
    form = TaskForm(request.POST, video=video, faces=selectors.current_faces(video))
    if form.is_valid():
        try:
            task = tasks.create_advanced(video=video, user=request.user, data=form.cleaned_data)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            # The task's page shows its progress; a "Submitted" notice would outlive it.
            if request.htmx:
                return HttpResponseClientRedirect(task.get_absolute_url())
            return redirect(task)
    context = _workspace_context(request, video, form)
    return render(request, "projects/video_workspace.html", context, status=400)


@login_required
@require_GET
def video_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The video's facts, polled while it is being checked."""
    video = get_video_for_user(request.user, pk)
    response = render_polled(
        request,
        "projects/video_detail.html#video-facts",
        _video_context(video),
        settled=video.is_settled,
    )
    if video.is_ready:
        response["HX-Refresh"] = "true"  # the face picker and timeline appear with the page
    return response


def _video_context(video: SourceVideo) -> dict:
    return {
        "video": video,
        "project": video.project,
        "can_edit": Ability.EDIT in video.project.abilities,
        "derived": selectors.fixed_copies(video),
    }


def _workspace_context(request, video: SourceVideo, form: TaskForm | None = None) -> dict:
    found = selectors.current_faces(video)
    if form is None:
        form = TaskForm(initial=_initial_from(request, video, found), video=video, faces=found)
    selected = form["face"].value()
    context = _video_context(video)
    context.update(
        faces=found,
        selected_face=next((face for face in found if str(face.pk) == str(selected)), None),
        audio_clips=list(form.fields["audio"].queryset),
        unusable_clips=selectors.unusable_audio_clips(video.project),
        form=form,
        rules=TIMELINE_RULES,
    )
    # The timeline has its own player (it routes the sound for "listen to the mix"); the
    # facts card then shows the poster instead of a second player.
    context["timeline_shown"] = bool(
        context["can_edit"] and context["faces"] and context["audio_clips"]
    )
    if context["can_edit"]:
        context.update(_add_audio_context(request, video))
    return context


def _add_audio_context(request, video: SourceVideo) -> dict:
    """Adding audio from the video's page: the project page's forms, which come back here,
    and the clip just added (`?new_audio=`), followed until it is ready."""
    project = video.project
    return {
        "audio_upload_url": reverse("projects:audio-upload", args=[project.pk]),
        "audio_cap": media.upload_cap_for("audio"),
        "audio_limits_text": media.upload_limits_text("audio"),
        "tts_form": TtsClipForm(auto_id="tts_%s"),
        "come_back_to": video.get_absolute_url(),
        "new_clip": selectors.clip_in_project(project, request.GET.get("new_audio")),
    }


def _initial_from(request, video: SourceVideo, found: list[DetectedFace]) -> dict:
    """A fresh form, or one started from an older task ("Duplicate"), with the face picked
    (just now, or earlier by this person: see selectors.chosen_face) and a clip just added."""
    initial: dict = {"sound_volume": 1.0, "original_audio_volume": 1.0, "sound_start": 0}
    source = request.GET.get("from")
    if source:
        try:
            task = get_task_for_user(request.user, source)
        except Http404:
            task = None
        if task is not None and task.video_id == video.pk:
            initial.update(tasks.duplicate_initial(task))
    face = request.GET.get("face")
    if face and any(str(found_face.pk) == face for found_face in found):
        initial["face"] = face
    elif "face" not in initial:
        chosen = selectors.chosen_face(video, request.user, found)
        if chosen is not None:
            initial["face"] = chosen.pk
    clip = selectors.clip_in_project(video.project, request.GET.get("audio"))
    if clip is not None and clip.is_ready:
        initial["audio"] = clip.pk  # a clip just added from this page
    return initial


# --- Faces ------------------------------------------------------------------------------------


@login_required
@require_GET
def faces_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The face cards, polled while the search runs (showing the faces as soon as they are
    found) and until the timeline's pictures are made."""
    video = get_video_for_user(request.user, pk)
    response = render_polled(
        request,
        "projects/video_workspace.html#faces",
        _workspace_context(request, video),
        settled=not video.faces_panel_polls,
    )
    if not video.faces_panel_polls:
        # Only a page that was waiting polls here: reload it so the timeline appears too.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def identify_again(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    if not video.is_ready:
        messages.error(request, "This video is not ready yet; wait until it has been checked.")
    elif video.is_searching_faces:
        messages.info(request, "We are already looking for faces in this video.")
    elif not faces.request_identification(video):
        messages.error(request, "Fix the problems with this video first; then we look for faces.")
    if request.htmx:
        return render(
            request, "projects/video_workspace.html#faces", _workspace_context(request, video)
        )
    return redirect(video)


@login_required
@require_POST
def face_select(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Pick a face: htmx tells the timeline with an event; without JS, reload with it chosen."""
    face = get_face_for_user(request.user, pk)
    video = face.video
    faces.remember_choice(face, request.user)
    if not request.htmx:
        return redirect(f"{reverse('projects:video', args=[video.pk])}?face={face.pk}#timeline")
    request.GET = request.GET.copy()
    request.GET["face"] = str(face.pk)
    response = render(
        request, "projects/video_workspace.html#faces", _workspace_context(request, video)
    )
    detail = {"id": face.pk, "start_ms": face.start_ms, "end_ms": face.end_ms}
    return trigger_client_event(response, "faceSelected", detail)


@login_required
@require_GET
def face_file(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    face = get_face_for_user(request.user, pk)
    return serving.serve_file(request, face.thumbnail, "image/jpeg")


# --- Audio added from the video's page --------------------------------------------------------


@login_required
@require_GET
def new_clip_status(request: HtmxHttpRequest, pk: int, clip_pk: int) -> HttpResponse:
    """The clip just added from the video's page, polled while it is checked; once it is
    ready, the page comes back with the clip chosen on the timeline."""
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    clip = selectors.clip_in_project(video.project, str(clip_pk))
    if clip is None:
        raise Http404("No such audio clip in this project.")
    response = render_polled(
        request,
        "projects/video_workspace.html#new-clip",
        {"video": video, "new_clip": clip},
        settled=clip.is_settled,
    )
    if clip.is_ready:
        response["HX-Redirect"] = f"{video.get_absolute_url()}?audio={clip.pk}#timeline"
    return response


# --- Fixing, quick mode, files ----------------------------------------------------------------


@login_required
@require_POST
def video_fix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    for_quick_mode = request.POST.get("for") == "quick_mode"
    back = redirect("projects:quick", pk=video.pk) if for_quick_mode else redirect(video)
    form = FixForm(request.POST, duration_ms=video.duration_ms)
    if not form.is_valid():
        messages.error(request, form.errors["trim_start"][0])
        return back
    try:
        copy = media.request_video_fix(
            video,
            user=request.user,
            trim_start_ms=form.cleaned_data["trim_start"],
            for_quick_mode=for_quick_mode,
        )
    except ServiceError as error:
        messages.error(request, str(error))
        return back
    # The copy's page says "Making a copy that meets the limits…" until the outcome replaces it.
    return HttpResponseClientRedirect(copy.get_absolute_url()) if request.htmx else redirect(copy)


@login_required
@require_http_methods(["GET", "POST"])
def quick_mode(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    need = Ability.EDIT if request.method == "POST" else Ability.VIEW
    video = get_video_for_user(request.user, pk, need)
    form = QuickTaskForm(request.POST or None, video=video)
    if request.method == "POST" and form.is_valid():
        try:
            task = tasks.create_quick(video=video, user=request.user, data=form.cleaned_data)
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            # The task's page shows its progress; a "Submitted" notice would outlive it.
            if request.htmx:
                return HttpResponseClientRedirect(task.get_absolute_url())
            return redirect(task)
    context = {
        "video": video,
        "project": video.project,
        "form": form,
        "problems": basic_video_problems(video),
        "unusable_clips": selectors.unusable_audio_clips(video.project),
        "can_edit": Ability.EDIT in video.project.abilities,
    }
    return render(request, "projects/quick_mode.html", context, status=400 if form.errors else 200)


# --- Renaming and deleting ------------------------------------------------------------------


@login_required
@require_POST
def video_rename(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    return rename_then_return(
        request,
        rename=lambda name: media.rename_media(video, name=name, by=request.user),
        shown_as=lambda: str(video),
        back=video,
    )


@login_required
@require_http_methods(["GET", "POST"])
def video_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for a confirmation; POST deletes the video, its pictures, faces and files."""
    video = get_video_for_user(request.user, pk, Ability.EDIT)
    deletion = Deletion(
        project=video.project,
        what=f"the video “{video}”",
        also="Its faces, pictures and file go with it. Fixed copies made from it stay.",
        refusal=video.delete_refusal,
        back_url=video.get_absolute_url(),
        done_url=video.project.get_absolute_url(),
        delete=lambda: media.delete_media(video, by=request.user),
    )
    return confirm_then_delete(request, deletion)


@login_required
@require_GET
def video_file(request: HtmxHttpRequest, pk: int, field: str) -> HttpResponse:
    video = get_video_for_user(request.user, pk)
    if field not in VIDEO_FILES:
        raise Http404("No such file.")
    content_type = video.content_type if field == "file" else VIDEO_FILES[field]
    return serving.serve_file(request, getattr(video, field), content_type)
