"""Pages under /audio/: an audio clip's polled row while it is checked, "fix it for me", its
file, and the voice samples of the voice picker."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import FileSystemStorage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from projects import serving
from projects.access import Ability, get_audio_for_user
from projects.forms import FixForm
from projects.htmx import HtmxHttpRequest, render_polled
from projects.mediakit import captions
from projects.services import media, voices
from projects.services.errors import ServiceError
from projects.views.confirm import Deletion, confirm_then_delete
from projects.views.renaming import rename_then_return


@login_required
@require_GET
def audio_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk)
    context = {
        "clip": clip,
        "project": clip.project,
        "can_edit": Ability.EDIT in clip.project.abilities,
    }
    return render_polled(
        request, "projects/includes/audio_row.html", context, settled=clip.is_settled
    )


@login_required
@require_POST
def audio_fix(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk, Ability.EDIT)
    form = FixForm(request.POST, duration_ms=clip.duration_ms)
    if not form.is_valid():
        messages.error(request, form.errors["trim_start"][0])
        return redirect(clip.project)
    try:
        # The copy's row says "Checking…" until it is made: no notice that would outlive it.
        media.request_audio_fix(
            clip, user=request.user, trim_start_ms=form.cleaned_data["trim_start"]
        )
    except ServiceError as error:
        messages.error(request, str(error))
    return redirect(clip.project)


@login_required
@require_POST
def audio_rename(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk, Ability.EDIT)
    return rename_then_return(
        request,
        rename=lambda name: media.rename_media(clip, name=name, by=request.user),
        shown_as=lambda: str(clip),
        back=f"{clip.project.get_absolute_url()}#audio-{clip.pk}",
    )


@login_required
@require_http_methods(["GET", "POST"])
def audio_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """GET asks for a confirmation; POST deletes the clip and its file."""
    clip = get_audio_for_user(request.user, pk, Ability.EDIT)
    deletion = Deletion(
        project=clip.project,
        what=f"the audio clip “{clip}”",
        also="Its file goes with it.",
        refusal=clip.delete_refusal,
        back_url=f"{clip.project.get_absolute_url()}#audio-{clip.pk}",
        done_url=f"{clip.project.get_absolute_url()}#audio-heading",
        delete=lambda: media.delete_media(clip, by=request.user),
    )
    return confirm_then_delete(request, deletion)


@login_required
@require_POST
def audio_captions(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Attach a WebVTT file of what the clip says; its words become the result's captions."""
    clip = get_audio_for_user(request.user, pk, Ability.EDIT)
    uploaded = request.FILES.get("captions")
    if uploaded is None:
        messages.error(request, "Choose a captions file (.vtt) first.")
    elif uploaded.size > captions.MAX_VTT_BYTES:
        messages.error(request, "This captions file is larger than 256 KB; captions are smaller.")
    else:
        try:
            count = media.attach_captions(clip, data=uploaded.read(), by=request.user)
        except ServiceError as error:
            messages.error(request, f"Captions for “{clip}” not attached: {error}")
        else:
            messages.success(request, f"{count} captions attached to “{clip}”.")
    return redirect(f"{clip.project.get_absolute_url()}#audio-{clip.pk}")


@login_required
@require_GET
def audio_file(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    clip = get_audio_for_user(request.user, pk)
    return serving.serve_file(request, clip.file, clip.content_type)


@login_required
@require_GET
def voice_sample(request: HtmxHttpRequest) -> HttpResponse:
    """A voice's sample; the first request asks a worker to record it (503, retry soon)."""
    try:
        path = voices.sample_or_request(request.GET.get("voice", ""), request.GET.get("lang", "en"))
    except ValueError:
        raise Http404("No such voice.") from None
    if path is None:
        response = HttpResponse(
            "The sample is being recorded; try again in a moment.",
            status=503,
            content_type="text/plain",
        )
        response["Retry-After"] = "1"
        return response
    storage = FileSystemStorage(location=path.parent)
    return serving.serve_stored(request, storage, path.name, voices.content_type(path))
