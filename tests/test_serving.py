"""Serving stored files: one byte range at a time, and signed links that name no path."""

from __future__ import annotations

import binascii
import contextlib
import zlib

import pytest
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.test import RequestFactory
from django.urls import reverse

from projects import serving

CONTENT = bytes(range(256)) * 40  # 10,240 bytes, each position recognisable


@pytest.fixture
def stored(tmp_path) -> tuple[FileSystemStorage, str]:
    storage = FileSystemStorage(location=tmp_path)
    return storage, storage.save("videos/7/clip.mp4", ContentFile(CONTENT))


def serve(stored, range_header: str | None):
    storage, name = stored
    headers = {"Range": range_header} if range_header is not None else {}
    request = RequestFactory().get("/any/", headers=headers)
    return serving.serve_stored(request, storage, name, "video/mp4")


def body(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=10-19", 10, 19), ("bytes=10240-", None, None), ("bytes=-16", 10224, 10239)],
)
def test_one_range_is_answered_with_exactly_its_bytes(stored, header, start, end):
    response = serve(stored, header)
    if start is None:
        assert response.status_code == 416
        assert response["Content-Range"] == f"bytes */{len(CONTENT)}"
        return
    assert response.status_code == 206
    assert body(response) == CONTENT[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response["Content-Length"] == str(end - start + 1)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-9",
        "bytes=0-0, -1",
        "bytes=100-200,300-400,500-",
        "items=0-10",
        "bytes=abc",
        "bytes=" + "9" * 5000 + "-",  # too long for int() to read
        "",
    ],
)
def test_anything_but_one_range_gets_the_whole_file_as_200(stored, header):
    response = serve(stored, header)
    assert response.status_code == 200
    assert "Content-Range" not in response
    assert response["Content-Length"] == str(len(CONTENT))
    assert body(response) == CONTENT


# --- Signed links ---------------------------------------------------------------------------


@pytest.fixture
def stored_default(_media_root) -> str:
    return default_storage.save("videos/7/presenter-interview.mp4", ContentFile(CONTENT))


def readable_pieces(token: str) -> list[str]:
    """The token's parts as text, decoded as Django's signing encodes (base64, maybe zlib)."""
    pieces = []
    for part in token.split(":"):
        pieces.append(part)
        try:
            decoded = signing.b64_decode(part.removeprefix(".").encode())
        except (binascii.Error, ValueError):
            continue
        pieces.append(decoded.decode("latin-1"))
        with contextlib.suppress(zlib.error):
            pieces.append(zlib.decompress(decoded).decode("latin-1"))
    return pieces


@pytest.mark.django_db
def test_a_signed_link_names_an_opaque_id_not_the_storage_path(client, settings, stored_default):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    field_file = type("Stored", (), {"name": stored_default})()
    link = serving.signed_media_url(field_file, "video/mp4")
    token = link.rsplit("/", 2)[-2]
    for piece in readable_pieces(token):
        for word in ("videos", "presenter", "interview", ".mp4", "7/"):
            assert word not in piece, (word, piece)
    response = client.get(link.removeprefix("https://lipsync.example.com"))
    assert response.status_code == 200
    assert response["Content-Type"] == "video/mp4"
    assert b"".join(response.streaming_content) == CONTENT


@pytest.mark.django_db
def test_a_link_naming_a_path_opens_nothing(client, stored_default):
    """The earlier links' form: a signed storage path. Whatever it names, it is refused."""
    for salt in ("lipsync.media-link.v1", serving.LINK_SALT):
        token = signing.dumps({"n": stored_default, "t": "video/mp4"}, salt=salt, compress=True)
        assert client.get(reverse("projects:media-link", args=[token])).status_code == 404


@pytest.mark.django_db
def test_links_past_their_lifetime_are_forgotten(settings, stored_default):
    from projects.models import MediaLink

    field_file = type("Stored", (), {"name": stored_default})()
    serving.signed_media_url(field_file, "video/mp4")
    MediaLink.objects.update(created_at=MediaLink.objects.get().created_at.replace(year=2000))
    serving.signed_media_url(field_file, "video/mp4")
    assert MediaLink.objects.count() == 1
