"""Uploading and importing media, probing on the worker, "fix it for me", and serving files."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from projects import serving
from projects.models import AudioClip, MediaStatus, SourceVideo
from projects.services import media as media_services
from tests.support.mediagen import make_audio, make_video

pytestmark = [pytest.mark.django_db, pytest.mark.portable]


def stored_files(media_root: Path) -> list[Path]:
    return [path for path in media_root.rglob("*") if path.is_file()] if media_root.exists() else []


def upload(client: Client, project, path: Path, kind: str = "video", **extra):
    url = reverse(f"projects:{kind}-upload", args=[project.pk])
    with path.open("rb") as handle:
        return client.post(url, {"file": handle}, **extra)


@pytest.fixture
def good_video(tmp_path) -> Path:
    return make_video(tmp_path / "interview.mp4", width=640, height=512, duration_s=2.5)


def test_upload_stores_file_and_schedules_probe(
    clients, project, good_video, _media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        response = upload(clients["editor"], project, good_video)
    video = SourceVideo.objects.get()
    assert response.status_code == 302 and response.url == video.get_absolute_url()
    assert video.status == MediaStatus.UPLOADED
    assert video.original_name == "interview.mp4"
    assert video.size_bytes == good_video.stat().st_size
    assert len(video.sha256) == 64
    assert Path(video.file.path).read_bytes() == good_video.read_bytes()
    assert not video.file.name.endswith("interview.mp4"), "stored names never reuse the user's"
    assert len(callbacks) == 1  # the probe task, enqueued only after the commit


def test_probe_makes_video_ready_with_poster_strip_and_waveform(clients, project, good_video):
    upload(clients["editor"], project, good_video)
    video = SourceVideo.objects.get()
    media_services.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY
    assert (video.width, video.height) == (640, 512)
    assert 2400 <= video.duration_ms <= 2600
    assert video.has_audio
    assert video.poster.read()[:3] == b"\xff\xd8\xff"
    assert video.strip_tile_count == media_services.THUMBNAIL_STRIP_TILES
    assert video.waveform["peaks"] and video.waveform["duration"] == pytest.approx(2.5, abs=0.1)
    assert video.problems == []
    page = clients["editor"].get(video.get_absolute_url())
    assert "meets the engine's limits" in page.content.decode()


def test_video_that_breaks_a_limit_is_kept_with_a_fix(clients, project, tmp_path):
    small = make_video(tmp_path / "tiny.mp4", width=320, height=240, duration_s=2.5)
    upload(clients["editor"], project, small)
    video = SourceVideo.objects.get()
    media_services.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY
    assert [p["fix"] for p in video.problems] == ["upscale"]
    page = clients["editor"].get(video.get_absolute_url()).content.decode()
    assert "Fix it for me" in page
    assert "320×240" in page


def test_fix_it_for_me_makes_a_conforming_copy(clients, project, tmp_path):
    small = make_video(tmp_path / "tiny.mp4", width=320, height=240, duration_s=2.5)
    upload(clients["editor"], project, small)
    original = SourceVideo.objects.get()
    media_services.probe_video(original.pk)
    response = clients["editor"].post(reverse("projects:video-fix", args=[original.pk]))
    copy = SourceVideo.objects.exclude(pk=original.pk).get()
    assert response.status_code == 302 and response.url == copy.get_absolute_url()
    media_services.conform_video(copy.pk)
    copy.refresh_from_db()
    assert copy.status == MediaStatus.READY, copy.rejection_reason
    assert copy.problems == []
    assert min(copy.width, copy.height) >= 512
    assert any("Upscaled" in change or "512" in change for change in copy.media_info["changes"])


def test_text_file_renamed_mp4_is_rejected_and_nothing_kept(
    clients, project, tmp_path, _media_root
):
    fake = tmp_path / "holiday.mp4"
    fake.write_text("this is not a video at all\n" * 100)
    upload(clients["editor"], project, fake)
    video = SourceVideo.objects.get()
    media_services.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.REJECTED
    assert "video" in video.rejection_reason.lower()
    assert "Traceback" not in video.rejection_reason
    assert not video.file
    assert stored_files(_media_root) == []
    page = clients["editor"].get(video.get_absolute_url()).content.decode()
    assert video.rejection_reason.split(".")[0] in page.replace("&#x27;", "'")


def test_oversized_upload_is_refused_with_no_row_and_no_file(
    clients, project, tmp_path, monkeypatch, _media_root
):
    monkeypatch.setattr(media_services, "VIDEO_UPLOAD_CAP", 200_000)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 300_000)
    response = upload(clients["editor"], project, big, HTTP_HX_REQUEST="true")
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert not SourceVideo.objects.exists()
    assert stored_files(_media_root) == []


def test_cap_is_enforced_while_streaming_even_if_length_lies(project, users, monkeypatch):
    """The handler counts the bytes it receives, not what the request claims."""
    from django.test import RequestFactory

    from projects.uploads import CappedUploadHandler

    request = RequestFactory().post("/")
    handler = CappedUploadHandler(request, max_bytes=1000)
    assert handler.handle_raw_input(None, {}, 500, b"x") is None  # a small claim passes
    handler.new_file("file", "a.mp4", "video/mp4", 0)
    handler.receive_data_chunk(b"a" * 800, 0)
    from django.core.files.uploadhandler import StopUpload

    with pytest.raises(StopUpload):
        handler.receive_data_chunk(b"a" * 800, 800)
    assert handler.too_large and handler.temp_file is None


def test_empty_upload_is_refused(clients, project, tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    response = upload(clients["editor"], project, empty, HTTP_HX_REQUEST="true")
    assert response.status_code == 400
    assert "empty" in response.content.decode()
    assert not SourceVideo.objects.exists()


def test_hostile_unicode_name_is_shown_safely(clients, project, good_video):
    url = reverse("projects:video-upload", args=[project.pk])
    name = "\u202egnp.mp4" + "é" * 400 + "\x00.mp4"
    clients["editor"].post(url, {"file": SimpleUploadedFile(name, good_video.read_bytes())})
    video = SourceVideo.objects.get()
    assert "\u202e" not in video.original_name and "\x00" not in video.original_name
    assert len(video.original_name) <= 200


def test_upload_needs_csrf_token(project, users, good_video):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["editor"])
    response = upload(client, project, good_video)
    assert response.status_code == 403
    assert not SourceVideo.objects.exists()


def test_reviewer_cannot_upload_and_outsider_sees_nothing(clients, project, good_video):
    assert upload(clients["reviewer"], project, good_video).status_code == 403
    assert upload(clients["outsider"], project, good_video).status_code == 404
    assert not SourceVideo.objects.exists()


def test_audio_upload_probe_and_waveform(clients, project, tmp_path):
    speech = make_audio(tmp_path / "line.mp3", duration_s=3)
    upload(clients["editor"], project, speech, kind="audio")
    clip = AudioClip.objects.get()
    media_services.probe_audio(clip.pk)
    clip.refresh_from_db()
    assert clip.status == MediaStatus.READY
    assert 2900 <= clip.duration_ms <= 3200
    assert clip.waveform["peaks"]
    assert clip.problems == []


def test_large_wav_gets_compressed_to_fit(clients, project, tmp_path):
    wav = make_audio(tmp_path / "long.wav", duration_s=40, sample_rate=48_000, channels=2)
    assert wav.stat().st_size > 5 * 1024 * 1024
    upload(clients["editor"], project, wav, kind="audio")
    clip = AudioClip.objects.get()
    media_services.probe_audio(clip.pk)
    clip.refresh_from_db()
    assert [p["fix"] for p in clip.problems] == ["compress_audio"]
    clients["editor"].post(reverse("projects:audio-fix", args=[clip.pk]))
    copy = AudioClip.objects.exclude(pk=clip.pk).get()
    media_services.conform_audio(copy.pk)
    copy.refresh_from_db()
    assert copy.status == MediaStatus.READY, copy.rejection_reason
    assert copy.problems == []
    assert copy.size_bytes <= 5 * 1024 * 1024


def test_url_import_refuses_private_address_with_plain_words(clients, project):
    response = clients["editor"].post(
        reverse("projects:url-import", args=[project.pk]),
        {"url": "http://127.0.0.1:9/secret.mp4", "kind": "video"},
    )
    video = SourceVideo.objects.get()
    assert response.status_code == 302
    media_services.fetch_imported("video", video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.REJECTED
    assert "inside our network" in video.rejection_reason


def test_url_import_rejects_non_web_schemes_in_the_form(clients, project):
    response = clients["editor"].post(
        reverse("projects:url-import", args=[project.pk]),
        {"url": "file:///etc/passwd", "kind": "video"},
        follow=True,
    )
    assert "web address" in response.content.decode()
    assert not SourceVideo.objects.exists()


# --- Serving ---------------------------------------------------------------------------------


@pytest.fixture
def ready_video(clients, project, good_video) -> SourceVideo:
    upload(clients["editor"], project, good_video)
    video = SourceVideo.objects.get()
    media_services.probe_video(video.pk)
    video.refresh_from_db()
    return video


def test_members_get_the_file_with_ranges_and_nosniff(clients, ready_video, good_video):
    url = reverse("projects:video-file", args=[ready_video.pk, "file"])
    response = clients["reviewer"].get(url, HTTP_RANGE="bytes=10-19")
    assert response.status_code == 206
    assert b"".join(response.streaming_content) == good_video.read_bytes()[10:20]
    assert response["Content-Range"] == f"bytes 10-19/{good_video.stat().st_size}"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "video/mp4"
    assert "sandbox" in response["Content-Security-Policy"]
    assert clients["outsider"].get(url).status_code == 404


def test_signed_link_serves_exactly_one_file_until_it_expires(client, ready_video, settings):
    settings.PUBLIC_BASE_URL = "https://lipsync.example.com"
    link = serving.signed_media_url(ready_video.file, "video/mp4")
    assert link.startswith("https://lipsync.example.com/hooks/media/")
    path = link.removeprefix("https://lipsync.example.com")
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    tampered = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]
    assert client.get(tampered).status_code == 404
    settings.LIPSYNC_MEDIA_LINK_MAX_AGE = -1
    assert client.get(path).status_code == 404


def test_uploaded_html_is_never_served_as_html(clients, project, tmp_path):
    html = tmp_path / "page.mp4"
    html.write_text("<html><script>alert(1)</script></html>")
    upload(clients["editor"], project, html)
    video = SourceVideo.objects.get()
    response = clients["editor"].get(reverse("projects:video-file", args=[video.pk, "file"]))
    assert response["Content-Type"] == "video/mp4"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_chunked_upload_without_a_length_is_refused_in_plain_words(clients, project, good_video):
    response = upload(
        clients["editor"],
        project,
        good_video,
        HTTP_TRANSFER_ENCODING="chunked",
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 411
    assert "did not say how large the file is" in response.content.decode()
    assert not SourceVideo.objects.exists()


def test_long_audio_is_trimmed_from_the_chosen_start(clients, project, tmp_path):
    long_clip = make_audio(tmp_path / "long.mp3", duration_s=65)
    upload(clients["editor"], project, long_clip, kind="audio")
    clip = AudioClip.objects.get()
    media_services.probe_audio(clip.pk)
    page = clients["editor"].get(project.get_absolute_url()).content.decode()
    assert "Keep 60 s starting at" in page
    clients["editor"].post(reverse("projects:audio-fix", args=[clip.pk]), {"trim_start": "4.5"})
    copy = AudioClip.objects.exclude(pk=clip.pk).get()
    assert copy.media_info["trim_start_ms"] == 4500
    media_services.conform_audio(copy.pk)
    copy.refresh_from_db()
    assert copy.status == MediaStatus.READY and copy.problems == []
    assert 59_500 <= copy.duration_ms <= 60_100
