"""Serving stored media: to project members, or to an engine through a signed, expiring link.

A signed link names exactly one stored file; it has its own salt so that no other signed value
of the app can be replayed as one. Media is never served as HTML: the content type comes from
what the file is (we probed it), and every response says `nosniff` and sandboxes itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.conf import settings
from django.core import signing
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse

LINK_SALT = "lipsync.media-link.v1"
CHUNK_BYTES = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")

AUDIO_CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "mp4": "audio/mp4",
    "aac": "audio/aac",
}


def signed_media_url(field_file: FieldFile, content_type: str) -> str:
    """An absolute URL (PUBLIC_BASE_URL) that serves this one file until the link expires."""
    token = signing.dumps({"n": field_file.name, "t": content_type}, salt=LINK_SALT, compress=True)
    base = settings.PUBLIC_BASE_URL or ""
    return base + reverse("projects:media-link", args=[token])


def unsign(token: str) -> tuple[str, str] | None:
    """The (stored name, content type) a token grants, or None if it is forged or expired."""
    try:
        payload = signing.loads(token, salt=LINK_SALT, max_age=settings.LIPSYNC_MEDIA_LINK_MAX_AGE)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        return None
    return payload["n"], str(payload.get("t") or "application/octet-stream")


def audio_content_type(container: str | None) -> str:
    return AUDIO_CONTENT_TYPES.get(container or "", "application/octet-stream")


def serve_file(
    request: HttpRequest,
    field_file: FieldFile,
    content_type: str,
    *,
    download_name: str | None = None,
) -> HttpResponse:
    return serve_stored(
        request, field_file.storage, field_file.name, content_type, download_name=download_name
    )


def serve_stored(
    request: HttpRequest,
    storage: Storage,
    name: str,
    content_type: str,
    *,
    download_name: str | None = None,
) -> HttpResponse:
    """Stream a stored file with single-range support (players seek with Range requests)."""
    if not name or not storage.exists(name):
        return HttpResponse(
            "This file is no longer available.", status=404, content_type="text/plain"
        )
    size = storage.size(name)
    start, end = _requested_range(request.headers.get("Range"), size)
    if start is None:
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        return _harden(response)
    handle = storage.open(name, "rb")
    handle.seek(start)
    response = StreamingHttpResponse(_read(handle, end - start + 1), content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if request.headers.get("Range"):
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    disposition = "attachment" if download_name else "inline"
    if download_name:
        ascii_name = download_name.encode("ascii", "ignore").decode().replace('"', "") or "download"
        response["Content-Disposition"] = f'{disposition}; filename="{ascii_name}"'
    else:
        response["Content-Disposition"] = disposition
    return _harden(response)


def _harden(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, max-age=300"
    return response


def _requested_range(header: str | None, size: int) -> tuple[int | None, int]:
    """(start, end) inclusive; (None, 0) when the range cannot be satisfied."""
    if size == 0:
        return (0, -1) if not header else (None, 0)
    if not header:
        return 0, size - 1
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        return 0, size - 1  # unsupported forms (multi-range) get the whole file
    first, last = match.groups()
    if first == "":
        length = int(last)
        return (max(0, size - length), size - 1) if length else (None, 0)
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None, 0
    return start, end


def _read(handle, remaining: int) -> Iterator[bytes]:
    try:
        while remaining > 0:
            chunk = handle.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()
