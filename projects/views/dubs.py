"""Pages under /dubs/: a whole video's dub — its editor (lines added, moved, cropped and typed,
each answered with the board and every line's rules), the original sound's volume, clips added
from the page, the plan before anything is paid, submit, live progress, "Try again", the
result, and deleting the dub."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from projects import selectors, serving
from projects.access import (
    Ability,
    get_dub_for_user,
    get_person_for_user,
    get_video_for_user,
)
from projects.forms import DubLineChangeForm, DubLineForm, DubVolumeForm, seconds_to_ms
from projects.htmx import HtmxHttpRequest, render_polled
from projects.models import AudioClip, Dub
from projects.services import dubs, media
from projects.services.errors import ServiceError
from projects.views.confirm import Deletion, confirm_then_delete

PAGE = "projects/dub_detail.html"


def _board_context(dub: Dub, line_error: str = "") -> dict:
    """What the board (the polled part, and the answer to a line's change) needs."""
    return {
        "dub": dub,
        "project": dub.project,
        "video": dub.source,
        "board": selectors.dub_board(dub),
        "can_edit": Ability.EDIT in dub.project.abilities,
        "line_error": line_error,
    }


def _context(
    dub: Dub,
    form: DubLineForm | None = None,
    form_error: str = "",
    new_clip: AudioClip | None = None,
) -> dict:
    """The whole page: the board, the line form and adding a clip from the page."""
    return {
        **_board_context(dub),
        "form": form or _line_form(dub),
        "form_error": form_error,
        # Audio added from this page (upload, microphone) comes back here and is followed.
        "audio_upload_url": reverse("projects:audio-upload", args=[dub.project_id]),
        "audio_cap": media.upload_cap_for("audio"),
        "audio_limits_text": media.upload_limits_text("audio"),
        "come_back_to": dub.get_absolute_url(),
        "new_clip": new_clip,
    }


def _line_form(dub: Dub, data=None, initial_clip: AudioClip | None = None) -> DubLineForm:
    initial = (
        {"audio": initial_clip.pk} if initial_clip is not None and initial_clip.is_ready else {}
    )
    return DubLineForm(
        data,
        initial=initial,
        people=list(dub.source.people.all()),
        clips=selectors.dub_audio_clips(dub.project),
    )


@login_required
@require_POST
def dub_create(request: HtmxHttpRequest, video_pk: int) -> HttpResponse:
    video = get_video_for_user(request.user, video_pk, Ability.EDIT)
    try:
        dub = dubs.create(video=video, user=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect(video)
    return redirect(dub)


@login_required
@require_GET
def dub_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The dub's page; `?new_audio=` follows a clip just added here until it is ready, and
    `?audio=` starts the line form with a clip chosen."""
    dub = get_dub_for_user(request.user, pk)
    chosen = selectors.clip_in_project(dub.project, request.GET.get("audio"))
    new_clip = selectors.clip_in_project(dub.project, request.GET.get("new_audio"))
    form = _line_form(dub, initial_clip=chosen)
    return render(request, PAGE, _context(dub, form, new_clip=new_clip))


@login_required
@require_GET
def new_clip_status(request: HtmxHttpRequest, pk: int, clip_pk: int) -> HttpResponse:
    """A clip added from the dub's page, polled while it is checked; once it is ready the page
    comes back with it chosen in "Add a line"."""
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    clip = selectors.clip_in_project(dub.project, str(clip_pk))
    if clip is None:
        raise Http404("No such audio clip in this project.")
    context = {"dub": dub, "new_clip": clip}
    response = render_polled(request, f"{PAGE}#new-clip", context, settled=clip.is_settled)
    if clip.is_ready:
        response["HX-Redirect"] = f"{dub.get_absolute_url()}?audio={clip.pk}#add-line"
    return response


@login_required
@require_GET
def dub_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The polled part: people being found, then the jobs' progress; stops once settled."""
    dub = get_dub_for_user(request.user, pk)
    context = _board_context(dub)
    board = context["board"]
    response = render_polled(request, f"{PAGE}#board", context, settled=board.settled)
    if board.settled:
        # The page polls only while something is under way (the people being looked for, the
        # dub being made): now that it has ended, the editor, "Add a line" and the page's
        # actions come back with the page.
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def line_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    form = _line_form(dub, request.POST)
    if not form.is_valid():
        return _form_refused(request, dub, form, "")
    data = form.cleaned_data
    try:
        if data["source"] == "text":
            clip = dubs.speech_clip(
                dub,
                text=data["text"],
                voice_id=data["voice_id"],
                language=data["voice_language"] or "en",
                speed=float(data["voice_speed"] or 1),
            )
        else:
            clip = data["audio"]
        dubs.add_line(
            dub,
            dubs.LineInput(
                person=data["person"],
                at_ms=seconds_to_ms(data["at"]),
                audio=clip,
                crop_start_ms=seconds_to_ms(data["crop_start"]) or 0,
                crop_end_ms=seconds_to_ms(data["crop_end"]),
                volume=data["volume"],
            ),
        )
    except ServiceError as error:
        return _form_refused(request, dub, form, str(error))
    messages.success(request, "Line added.")
    # The whole page changes (the person's row, the plan): load it again.
    return HttpResponseClientRedirect(dub.get_absolute_url()) if request.htmx else redirect(dub)


def _form_refused(request, dub: Dub, form: DubLineForm, error: str) -> HttpResponse:
    """The form again with what is wrong, in its own error area (htmx: status 400)."""
    context = _context(dub, form, error)
    if request.htmx:
        return render(request, f"{PAGE}#line-form", context, status=400)
    return render(request, PAGE, context, status=400)


@login_required
@require_POST
def line_change(request: HtmxHttpRequest, pk: int, line_pk: int) -> HttpResponse:
    """A line moved, cropped or typed on the editor. With htmx the board comes back with every
    line's rules checked again (and what was refused, in words, at its top); without, the page."""
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    line = dub.lines.select_related("person", "audio").filter(pk=line_pk).first()
    if line is None:
        raise Http404("No such line.")
    form = DubLineChangeForm(request.POST)
    error = ""
    if not form.is_valid():
        error = _first_error(form)
    else:
        try:
            dubs.change_line(line, _changed(line, form.cleaned_data))
        except ServiceError as refused:
            error = str(refused)
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect(dub)
    context = _board_context(dub, line_error=error)
    return render(request, f"{PAGE}#board", context, status=400 if error else 200)


def _changed(line, data: dict) -> dubs.LineInput:
    """The line with what the form gave; a field left empty keeps the line's value."""
    changes = {"at_ms": seconds_to_ms(data["at"])}
    if data.get("crop_start") is not None:
        changes["crop_start_ms"] = seconds_to_ms(data["crop_start"])
    if data.get("crop_end") is not None:
        changes["crop_end_ms"] = seconds_to_ms(data["crop_end"])
    if data.get("volume") is not None:
        changes["volume"] = data["volume"]
    return dataclasses.replace(dubs.LineInput.of(line), **changes)


def _first_error(form: Form) -> str:
    field, errors = next(iter(form.errors.items()))
    label = form.fields[field].label if field in form.fields else ""
    return f"{label}: {errors[0]}" if label else errors[0]


@login_required
@require_POST
def line_fix(request: HtmxHttpRequest, pk: int, line_pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    line = dub.lines.filter(pk=line_pk).first()
    if line is None:
        raise Http404("No such line.")
    try:
        dubs.apply_fix(line)
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Fixed: the line now meets every rule.")
    return redirect(dub)


@login_required
@require_POST
def line_remove(request: HtmxHttpRequest, pk: int, line_pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    line = dub.lines.filter(pk=line_pk).first()
    if line is not None:
        _told_if_refused(request, dubs.remove_line, line)
    return redirect(dub)


@login_required
@require_POST
def dub_volume(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The original soundtrack's volume in the dub's mix."""
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    form = DubVolumeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _first_error(form))
    else:
        _told_if_refused(
            request, dubs.set_original_volume, dub, form.cleaned_data["original_volume"]
        )
    return redirect(dub)


@login_required
@require_POST
def dub_submit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    _told_if_refused(request, dubs.submit, dub, request.user)
    return redirect(dub)


@login_required
@require_POST
def dub_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    _told_if_refused(request, dubs.try_again, dub, request.user)
    return redirect(dub)


@login_required
@require_http_methods(["GET", "POST"])
def dub_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for a confirmation; POST deletes the dub and what was made for it."""
    dub = get_dub_for_user(request.user, pk, Ability.EDIT)
    deletion = Deletion(
        project=dub.project,
        what=f"this dub of “{dub.source}”",
        also="Its lines, the parts of the video sent to the engine and its result go with it; "
        "the video and the audio clips its lines used stay.",
        refusal=dub.delete_refusal,
        back_url=dub.get_absolute_url(),
        done_url=dub.source.get_absolute_url(),
        delete=lambda: dubs.delete(dub, by=request.user),
        done_message=f"Deleted the dub of “{dub.source}”.",
    )
    return confirm_then_delete(request, deletion)


def _told_if_refused(request: HtmxHttpRequest, verb, *args) -> None:
    """Run a dub verb; a refusal is told on the dub's page the request returns to."""
    try:
        verb(*args)
    except ServiceError as error:
        messages.error(request, str(error))


@login_required
@require_GET
def dub_result(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    dub = get_dub_for_user(request.user, pk)
    if not dub.has_result:
        raise Http404("This dub has no result yet.")
    name = f"dub-{dub.pk}.mp4" if request.GET.get("download") == "1" else None
    return serving.serve_file(request, dub.result_file, "video/mp4", download_name=name)


@login_required
@require_GET
def person_thumbnail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    person = get_person_for_user(request.user, pk)
    if not person.thumbnail:
        raise Http404("No picture of this person.")
    return serving.serve_file(request, person.thumbnail, "image/jpeg")
