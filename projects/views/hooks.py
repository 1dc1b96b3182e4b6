"""Pages under /hooks/: the engine's ways in, without a login. A callback when a task changed
(a hint, confirmed by asking the engine), and signed links to the files we send it."""

from __future__ import annotations

import hmac
import json

from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from projects import serving
from projects.htmx import HtmxHttpRequest
from projects.models import LipSyncTask
from projects.services import engines, pipeline

# A Kling callback is a flat task object, or the same object in an envelope: a few levels and
# a few kilobytes. Anything much deeper or larger is not a callback.
MAX_CALLBACK_DEPTH = 16
MAX_CALLBACK_BYTES = 64 * 1024
_OPENING, _CLOSING = frozenset(b"[{"), frozenset(b"]}")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")


@csrf_exempt  # the engine cannot send our CSRF token; the per-task secret in the URL guards it
@require_POST
def engine_callback(request: HtmxHttpRequest, pk: str, token: str) -> HttpResponse:
    """A hint that the task changed: we confirm by asking the engine with our own credentials."""
    task = LipSyncTask.objects.filter(pk=pk).only("pk", "callback_token", "status").first()
    if task is None or not hmac.compare_digest(task.callback_token.encode(), token.encode()):
        raise Http404("No such task.")
    raw = request.read(MAX_CALLBACK_BYTES + 1)
    if len(raw) > MAX_CALLBACK_BYTES:
        return _refused(
            f"The body is too large: a callback is under {MAX_CALLBACK_BYTES} bytes.", 413
        )
    if nesting_exceeds(raw, MAX_CALLBACK_DEPTH):
        return _refused(f"The body is nested deeper than {MAX_CALLBACK_DEPTH} levels.")
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return _refused("The body is not JSON.")
    if not isinstance(body, dict):
        return _refused("The body must be a JSON object.")
    scheduled = task.is_at_engine and pipeline.callback_hint(task)
    shown = raw.decode("utf-8", "replace")
    engines.record_callback(task, shown, 200, "" if scheduled else "no query needed")
    return JsonResponse({"ok": True, "scheduled": bool(scheduled)})


def _refused(error: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"ok": False, "error": error}, status=status)


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether JSON text opens more than `limit` arrays or objects inside one another.

    Checked on the bytes before parsing, because Python's parser recurses once per level and
    a body of 100,000 "[" would exhaust the interpreter's stack. Brackets inside strings are
    text. One pass over bytes already capped in size.
    """
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        elif byte in _CLOSING:
            depth -= 1
    return False


@require_GET
def media_link(request: HtmxHttpRequest, token: str) -> HttpResponse:
    """The engine's way in: a signed, expiring link to exactly one file; no login."""
    link = serving.unsign(token)
    if link is None:
        raise Http404("This link is invalid or has expired.")
    return serving.serve_stored(request, default_storage, link.name, link.content_type)
