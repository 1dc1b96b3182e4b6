"""Stored names and content types come from what the probe found, never from the uploader.

A file is stored under a neutral name (`….unprobed`, plain bytes) until the probe has read
it; then the bytes it read are stored as what they are (`.mp4`, `.wav` …) with that content
type, the row points there, and the neutral object is deleted: one file per row at every step.
On S3 (moto's server) the object's own content type is the probe's, not the browser's.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from projects import selectors
from projects.mediakit import conform, pictures
from projects.mediakit.conform import UPRIGHT_CHANGE
from projects.mediakit.errors import MediaError
from projects.models import AudioClip, FaceSearchState, MediaStatus, SourceVideo
from projects.services import media
from tests.support import s3
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
from tests.support.fixtures import add_video
from tests.support.mediagen import make_audio, make_video
from tests.support.s3 import BUCKET, use_s3_here

pytestmark = pytest.mark.django_db

s3_endpoint, bucket = s3.s3_endpoint, s3.bucket  # fixtures


def stored_files(media_root: Path) -> set[str]:
    return {str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file()}


def as_upload(path: Path, name: str, browser_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, path.read_bytes(), content_type=browser_type)


@pytest.fixture
def mp4(tmp_path) -> Path:
    return make_video(tmp_path / "made.mp4", width=640, height=512, duration_s=2.5)


def test_a_video_named_like_a_page_is_stored_as_the_mp4_it_is(project, users, mp4, _media_root):
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.html", "text/html")
    )
    assert video.file.name.endswith(".unprobed"), "a name that says nothing until probed"
    assert stored_files(_media_root) == {video.file.name}

    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY
    assert video.file.name.endswith(".mp4") and ".html" not in video.file.name
    assert video.file.name.rsplit("/", 1)[0] == f"videos/{project.pk}"
    assert video.file.read() == mp4.read_bytes()
    assert stored_files(_media_root) == {
        video.file.name,
        video.poster.name,
        video.thumbnail_strip.name,
    }
    assert video.content_type == "video/mp4"


@pytest.mark.parametrize(
    ("made", "claimed", "extension", "content_type"),
    [
        ("speech.wav", "speech.mp4", "wav", "audio/wav"),
        ("speech.mp3", "speech.exe", "mp3", "audio/mpeg"),
        ("speech.m4a", "speech", "m4a", "audio/mp4"),
    ],
)
def test_audio_is_stored_by_its_container_whatever_its_name(
    project, users, clients, tmp_path, _media_root, made, claimed, extension, content_type
):
    source = make_audio(tmp_path / made, duration_s=3)
    clip = media.upload_audio(
        project=project, user=users["editor"], uploaded=as_upload(source, claimed, "text/html")
    )
    media.probe_audio(clip.pk)
    clip.refresh_from_db()
    assert clip.status == MediaStatus.READY, clip.rejection_reason
    assert clip.file.name.endswith(f".{extension}")
    assert stored_files(_media_root) == {clip.file.name}
    served = clients["editor"].get(reverse("projects:audio-file", args=[clip.pk]))
    assert served["Content-Type"] == content_type


def test_a_file_the_probe_rejects_leaves_nothing(project, users, tmp_path, _media_root):
    page = tmp_path / "page.mp4"
    page.write_text("<html><script>alert(1)</script></html>")
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(page, "page.mp4", "video/mp4")
    )
    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.REJECTED
    assert stored_files(_media_root) == set()


def test_a_failure_while_saving_the_probe_leaves_the_unprobed_file_alone(
    project, users, mp4, _media_root, monkeypatch
):
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )
    unprobed = video.file.name

    def broken_store(field_file, name, data):
        raise OSError("disk full")

    monkeypatch.setattr(media, "store_bytes", broken_store)
    with pytest.raises(OSError, match="disk full"):
        media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.file.name == unprobed
    assert stored_files(_media_root) == {unprobed}, "no copy under the probed name is left"


def test_two_deliveries_of_one_probe_leave_one_file(project, users, mp4, _media_root, monkeypatch):
    """A lost worker's task is delivered again while the first run still works: the second
    finishes first here; the first then finds the row ready and deletes only its own copy."""
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )
    keep = media._keep_as_probed
    runs = []

    def keep_while_another_delivery_finishes(row, path, info):
        kept_as = keep(row, path, info)
        if not runs:
            runs.append(kept_as)
            media.probe_video(video.pk)  # the redelivered task, run to the end
        return kept_as

    monkeypatch.setattr(media, "_keep_as_probed", keep_while_another_delivery_finishes)
    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY
    assert video.file.name != runs[0], "the second delivery's copy is the one kept"
    assert stored_files(_media_root) == {
        video.file.name,
        video.poster.name,
        video.thumbnail_strip.name,
    }
    assert video.file.read() == mp4.read_bytes()


def test_a_late_delivery_that_cannot_read_the_moved_file_leaves_the_ready_row_alone(
    project, users, mp4, _media_root, monkeypatch
):
    """The worker's delivery of a probe starts while another run settles the row and moves
    its file to the probed name: the late one fails to read the neutral name, and that failure
    must not reject a video that is ready."""
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )
    real_probe = media.probe.probe_media

    def probe_after_another_delivery_finished(path, **kwargs):
        if not finished:
            finished.append(True)
            media.probe_video(video.pk)  # the other delivery, run to the end first
            return real_probe(Path(path).with_name("gone"), **kwargs)
        return real_probe(path, **kwargs)

    finished: list[bool] = []
    monkeypatch.setattr(media.probe, "probe_media", probe_after_another_delivery_finished)
    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.READY, video.rejection_reason
    assert video.rejection_reason == ""
    assert stored_files(_media_root) == {
        video.file.name,
        video.poster.name,
        video.thumbnail_strip.name,
    }


def test_on_s3_the_object_keeps_the_probes_content_type(
    project, users, mp4, tmp_path, settings, s3_endpoint, bucket
):
    use_s3_here(settings, s3_endpoint)
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.html", "text/html")
    )
    unprobed = video.file.name
    head = bucket.head_object(Bucket=BUCKET, Key=unprobed)
    assert head["ContentType"] == "application/octet-stream", "not the browser's text/html"

    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.file.name.endswith(".mp4")
    assert bucket.head_object(Bucket=BUCKET, Key=video.file.name)["ContentType"] == "video/mp4"
    keys = {item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET)["Contents"]}
    assert keys == {video.file.name, video.poster.name, video.thumbnail_strip.name}

    wav = make_audio(tmp_path / "line.wav", duration_s=3)
    clip = media.upload_audio(
        project=project, user=users["editor"], uploaded=as_upload(wav, "line.svg", "image/svg+xml")
    )
    media.probe_audio(clip.pk)
    clip = AudioClip.objects.get(pk=clip.pk)
    assert clip.file.name.endswith(".wav")
    assert bucket.head_object(Bucket=BUCKET, Key=clip.file.name)["ContentType"] == "audio/wav"


def test_the_face_search_starts_before_the_timeline_pictures_are_made(
    project, users, mp4, monkeypatch
):
    """The search needs only the probed file: it is asked for as soon as the video is ready,
    and the strip and waveform are made while it runs."""
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )
    make_strip = pictures.make_thumbnail_strip
    seen = []

    def strip_watching_the_row(path, **options):
        seen.append(SourceVideo.objects.get(pk=video.pk))
        return make_strip(path, **options)

    monkeypatch.setattr(pictures, "make_thumbnail_strip", strip_watching_the_row)
    media.probe_video(video.pk)
    [during] = seen
    assert during.is_ready and during.poster and during.is_making_pictures
    assert during.face_search_state == FaceSearchState.RUNNING
    video.refresh_from_db()
    assert not video.is_making_pictures and "pictures" not in video.media_info
    assert video.thumbnail_strip and video.waveform["peaks"]
    assert video.media_info["strip"]["times_ms"]


def test_a_strip_that_cannot_be_made_rejects_the_video_and_ends_its_search(
    project, users, mp4, monkeypatch, _media_root
):
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )

    def broken_strip(path, **options):
        raise MediaError("The pictures of this video could not be read.")

    monkeypatch.setattr(pictures, "make_thumbnail_strip", broken_strip)
    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.REJECTED
    assert video.rejection_reason == "The pictures of this video could not be read."
    assert not video.is_searching_faces and not video.is_making_pictures
    assert stored_files(_media_root) == set()


def test_a_redelivered_probe_makes_the_pictures_a_lost_worker_left(
    project, users, mp4, monkeypatch
):
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(mp4, "x.mp4", "video/mp4")
    )

    def worker_lost(video):
        raise SystemExit("worker lost between ready and the pictures")

    monkeypatch.setattr(media, "_make_timeline_pictures", worker_lost)
    with pytest.raises(SystemExit):
        media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.is_ready and video.is_making_pictures and not video.thumbnail_strip
    monkeypatch.undo()
    media.probe_video(video.pk)  # the task again
    video.refresh_from_db()
    assert video.thumbnail_strip and not video.is_making_pictures
    assert video.face_search_state == FaceSearchState.RUNNING, "one search, not a second"


def test_a_phone_video_stored_on_its_side_is_kept_upright_and_its_face_found(
    project, users, tmp_path, _media_root
):
    """A phone stores its pictures on their side and asks players to turn them; everything we
    make from a video reads the pixels as stored, so the stored copy is turned upright first."""
    phone = tmp_path / "phone.mp4"
    [truth] = write_face_video(
        phone,
        [Appearance(ASTRONAUT, 500, 3_500, height_frac=0.45)],
        duration_ms=3_500,
        size=(512, 896),
        rotation=-90,
    )
    video = add_video(project, users["editor"], phone)

    assert (video.width, video.height) == (512, 896)
    assert video.media_info["changes"] == [UPRIGHT_CHANGE]
    assert video.size_bytes == video.file.size
    assert stored_files(_media_root) - face_thumbnails(video) == {
        video.file.name,
        video.poster.name,
        video.thumbnail_strip.name,
    }, "the sideways upload is gone once its upright copy is stored"
    with av.open(video.file.path) as container:
        first = next(container.decode(video=0))
        assert (first.width, first.height, first.rotation) == (512, 896, 0)
    assert Image.open(video.poster.path).size[0] < Image.open(video.poster.path).size[1]
    [face] = selectors.current_faces(video)
    assert abs(face.start_ms - truth.start_ms) <= 200 and abs(face.end_ms - truth.end_ms) <= 200


def face_thumbnails(video: SourceVideo) -> set[str]:
    return {face.thumbnail.name for face in video.faces.all() if face.thumbnail}


def test_a_turn_upright_cut_short_by_the_time_limit_is_refused_in_words(
    project, users, tmp_path, _media_root, monkeypatch
):
    """The worker's soft time limit lands inside the turn; the video must not stay
    "checking" for ever, and nothing of it is kept."""

    def out_of_time(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(conform, "turn_upright", out_of_time)
    phone = make_video(tmp_path / "phone.mp4", width=512, height=896, rotation=-90)
    video = media.upload_video(
        project=project, user=users["editor"], uploaded=as_upload(phone, "phone.mp4", "video/mp4")
    )
    media.probe_video(video.pk)
    video.refresh_from_db()
    assert video.status == MediaStatus.REJECTED
    assert "turning it upright took longer than we allow" in video.rejection_reason
    assert stored_files(_media_root) == set()
