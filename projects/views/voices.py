"""Voice samples for the voice picker, spoken once by a worker and then served as files."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from projects import medialinks
from projects.engines.voices import UnknownVoiceError, get_voice
from projects.types import HtmxHttpRequest


def sample_path(voice_id: str, language: str):
    return settings.VAR_DIR / "voice-samples" / f"{voice_id}-{language}.wav"


@login_required
@require_GET
def voice_sample(request: HtmxHttpRequest) -> HttpResponse:
    voice_id = request.GET.get("voice", "")
    language = request.GET.get("lang", "en")
    try:
        get_voice(voice_id)
    except UnknownVoiceError:
        raise Http404("No such voice.") from None
    if language not in ("en", "zh"):
        raise Http404("No such language.")
    path = sample_path(voice_id, language)
    if not path.exists():
        from projects import tasks

        tasks.make_voice_sample.delay(voice_id, language)
        response = HttpResponse(
            "The sample is being recorded; try again in a moment.",
            status=503,
            content_type="text/plain",
        )
        response["Retry-After"] = "1"
        return response
    from django.core.files.storage import FileSystemStorage

    storage = FileSystemStorage(location=path.parent)
    return medialinks.serve_stored(request, storage, path.name, "audio/wav")
