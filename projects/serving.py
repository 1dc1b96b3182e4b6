"""Serving stored media: to project members, or to an engine through a signed, expiring link.

A signed link names exactly one stored file, by the random id of a MediaLink row (the storage
path never leaves us); it has its own salt so that no other signed value of the app can be
replayed as one. Media is never served as HTML: the content type comes from what the file is
(we probed it), and every response says `nosniff` and sandboxes itself.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.core.files.storage import Storage
from django.db.models.fields.files import FieldFile
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone

from projects.models import MediaLink

# v2: links name a MediaLink row; v1 links named the stored path and no longer open.
LINK_SALT = "lipsync.media-link.v2"
CHUNK_BYTES = 256 * 1024
# At most 18 digits a bound: more is no file of ours, and int() refuses very long numbers.
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


def signed_media_url(field_file: FieldFile, content_type: str) -> str:
    """An absolute URL (PUBLIC_BASE_URL) that serves this one file until the link expires.

    The link carries a random id, signed with its time; the stored name stays on our side.
    """
    link = MediaLink.objects.create(name=field_file.name, content_type=content_type)
    _forget_expired_links()
    token = signing.TimestampSigner(salt=LINK_SALT).sign(link.pk.hex)
    base = settings.PUBLIC_BASE_URL or ""
    return base + reverse("projects:media-link", args=[token])


def unsign(token: str) -> MediaLink | None:
    """The link a token grants, or None if it is forged, expired or unknown."""
    try:
        link_id = signing.TimestampSigner(salt=LINK_SALT).unsign(
            token, max_age=settings.LIPSYNC_MEDIA_LINK_MAX_AGE
        )
    except signing.BadSignature:  # includes SignatureExpired
        return None
    try:
        return MediaLink.objects.filter(pk=uuid.UUID(hex=link_id)).first()
    except ValueError:
        return None


def _forget_expired_links() -> None:
    oldest = timezone.now() - timedelta(seconds=settings.LIPSYNC_MEDIA_LINK_MAX_AGE)
    MediaLink.objects.filter(created_at__lt=oldest).delete()


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
    wanted = _requested_range(request.headers.get("Range"), size)
    if wanted is None:
        response = HttpResponse(status=416, content_type="text/plain")
        response["Content-Range"] = f"bytes */{size}"
        return _harden(response)
    start, end = wanted.start, wanted.end
    handle = storage.open(name, "rb")
    handle.seek(start)
    response = StreamingHttpResponse(_read(handle, end - start + 1), content_type=content_type)
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    if wanted.partial:
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


@dataclass(frozen=True)
class _Span:
    start: int
    end: int  # inclusive
    partial: bool  # a 206 answer to one range; otherwise the whole file as 200


def _requested_range(header: str | None, size: int) -> _Span | None:
    """The bytes to send; None when the one range asked for cannot be satisfied (416).

    We answer a single range. Anything else (several ranges, a form we do not read) gets the
    whole file with 200, as HTTP allows a server that ignores Range to do.
    """
    whole = _Span(0, size - 1, partial=False)
    match = _RANGE.match(header.strip()) if header else None
    if match is None or match.groups() == ("", ""):
        return whole
    first, last = match.groups()
    if first == "":
        length = int(last)
        return _Span(max(0, size - length), size - 1, partial=True) if length and size else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return _Span(start, end, partial=True)


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
