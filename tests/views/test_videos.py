"""A video's page: "fix it for me" with a start time inside the video, the face a person picked,
and audio added from the page itself."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from hypothesis import given

from projects import selectors
from projects.models import AudioClip, DetectedFace, FaceChoice, MediaStatus, SourceVideo
from tests.support.fixtures import add_speech
from tests.support.oddinput import ODD_NUMBER_TEXTS, number_texts, views_settings
from tests.support.simulator import write_tone_wav

pytestmark = [pytest.mark.django_db, pytest.mark.portable]

TOO_LONG_MS = 75_000


@pytest.fixture
def too_long_video(project, users) -> SourceVideo:
    """A ready video longer than the engine takes, which "fix it for me" can trim."""
    return SourceVideo.objects.create(
        project=project,
        original_name="long.mp4",
        created_by=users["editor"],
        status=MediaStatus.READY,
        duration_ms=TOO_LONG_MS,
        file="videos/1/long.mp4",
        media_info={"problems": [{"code": "too_long", "message": "Too long.", "fix": "trim"}]},
    )


def fix(client, video: SourceVideo, trim_start: str):
    return client.post(reverse("projects:video-fix", args=[video.pk]), {"trim_start": trim_start})


def copies_of(video: SourceVideo):
    return SourceVideo.objects.exclude(pk=video.pk)


@pytest.mark.parametrize("trim_start", ODD_NUMBER_TEXTS)
def test_a_start_that_is_not_a_time_inside_the_video_is_refused_in_words(
    clients, too_long_video, trim_start
):
    response = fix(clients["editor"], too_long_video, trim_start)
    assert response.status_code == 302 and response.url == too_long_video.get_absolute_url()
    said = [str(message) for message in get_messages(response.wsgi_request)]
    assert len(said) == 1 and ("seconds" in said[0] or " s" in said[0]), said
    assert not copies_of(too_long_video).exists()


def test_a_start_at_the_end_is_taken_and_one_past_it_is_not(clients, too_long_video):
    fix(clients["editor"], too_long_video, "75.001")
    assert not copies_of(too_long_video).exists()
    fix(clients["editor"], too_long_video, "75")
    assert copies_of(too_long_video).exists()


def test_a_blank_start_keeps_the_beginning(clients, too_long_video):
    fix(clients["editor"], too_long_video, "")
    assert copies_of(too_long_video).get().media_info["trim_start_ms"] == 0


@given(trim_start=number_texts)
@views_settings
def test_no_start_time_makes_a_server_error(clients, too_long_video, trim_start):
    response = fix(clients["editor"], too_long_video, trim_start)
    assert response.status_code == 302
    for copy in copies_of(too_long_video):
        assert 0 <= copy.media_info["trim_start_ms"] <= TOO_LONG_MS


# --- The picked face and audio added from the page ---------------------------------------------


@pytest.fixture
def two_faces(face_video) -> list[DetectedFace]:
    """The identified face and a second one in the same search (another person, later)."""
    [first] = selectors.current_faces(face_video)
    second = DetectedFace.objects.create(
        video=face_video,
        engine=first.engine,
        session_id=first.session_id,
        session_expires_at=first.session_expires_at,
        engine_face_id="second",
        start_ms=1_000,
        end_ms=3_400,
    )
    return [first, second]


def chosen_on_page(client, video) -> str | None:
    response = client.get(video.get_absolute_url())
    return response.context["form"]["face"].value()


def test_a_picked_face_is_kept_for_that_person_only(clients, face_video, two_faces, users):
    first, second = two_faces
    assert chosen_on_page(clients["editor"], face_video) is None  # two people: no guess
    response = clients["editor"].post(
        reverse("projects:face-select", args=[second.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert str(chosen_on_page(clients["editor"], face_video)) == str(second.pk)
    assert chosen_on_page(clients["owner"], face_video) is None
    clients["editor"].post(reverse("projects:face-select", args=[first.pk]))  # without htmx
    assert FaceChoice.objects.get(user=users["editor"]).face == first
    assert str(chosen_on_page(clients["editor"], face_video)) == str(first.pk)


def test_a_video_with_one_face_has_it_chosen(clients, face_video):
    [face] = selectors.current_faces(face_video)
    assert str(chosen_on_page(clients["reviewer"], face_video)) == str(face.pk)


def test_a_clip_added_from_the_page_is_followed_until_ready_then_chosen(
    clients, project, users, face_video, tmp_path
):
    clip = add_speech(project, users["editor"], tmp_path / "line.wav")
    status_url = reverse("projects:video-new-clip", args=[face_video.pk, clip.pk])
    AudioClip.objects.filter(pk=clip.pk).update(status=MediaStatus.PROBING)
    checking = clients["editor"].get(status_url, HTTP_HX_REQUEST="true")
    assert checking.status_code == 200 and "HX-Redirect" not in checking
    assert "Getting line.wav ready" in checking.content.decode()

    AudioClip.objects.filter(pk=clip.pk).update(status=MediaStatus.READY)
    ready = clients["editor"].get(status_url, HTTP_HX_REQUEST="true")
    assert ready["HX-Redirect"] == f"{face_video.get_absolute_url()}?audio={clip.pk}#timeline"
    page = clients["editor"].get(ready["HX-Redirect"].split("#")[0])
    assert str(page.context["form"]["audio"].value()) == str(clip.pk)


def test_only_editors_follow_a_clip_of_the_videos_own_project(
    clients, project, users, face_video, tmp_path
):
    clip = add_speech(project, users["editor"], tmp_path / "line.wav")
    url = reverse("projects:video-new-clip", args=[face_video.pk, clip.pk])
    assert clients["reviewer"].get(url).status_code == 403
    assert clients["outsider"].get(url).status_code == 404
    stranger = reverse("projects:video-new-clip", args=[face_video.pk, clip.pk + 1000])
    assert clients["editor"].get(stranger).status_code == 404


def test_an_upload_from_the_video_page_comes_back_to_it(clients, project, face_video, tmp_path):
    wav = write_tone_wav(tmp_path / "take.wav", 2_500)
    url = reverse("projects:audio-upload", args=[project.pk])
    with wav.open("rb") as handle:
        response = clients["editor"].post(
            url, {"file": handle, "next": face_video.get_absolute_url()}, HTTP_HX_REQUEST="true"
        )
    clip = AudioClip.objects.get()
    assert response["HX-Redirect"] == f"{face_video.get_absolute_url()}?new_audio={clip.pk}"


def test_speech_from_text_comes_back_to_the_video_page(clients, project, face_video):
    url = reverse("projects:tts-create", args=[project.pk])
    data = {
        "text": "See you next week.",
        "voice_id": "oversea_male1",
        "voice_language": "en",
        "voice_speed": "1.0",
        "next": face_video.get_absolute_url(),
    }
    response = clients["editor"].post(url, data)
    clip = AudioClip.objects.get()
    assert response.url == f"{face_video.get_absolute_url()}?new_audio={clip.pk}"


@pytest.mark.parametrize(
    "elsewhere", ["https://example.com/videos/1/", "//example.com/videos/1/", "javascript:x"]
)
def test_a_next_address_off_the_site_is_ignored(clients, project, elsewhere):
    url = reverse("projects:tts-create", args=[project.pk])
    data = {"text": "Hello there, everyone.", "voice_id": "oversea_male1"}
    data.update(voice_language="en", voice_speed="1.0", next=elsewhere)
    response = clients["editor"].post(url, data)
    assert response.url == f"{project.get_absolute_url()}#audio-heading"


def test_found_faces_show_at_once_while_the_timeline_pictures_are_still_made(clients, face_video):
    """The face cards do not wait for the thumbnail strip: they show, and the panel keeps
    polling; once the pictures are made it stops and reloads the page for its timeline."""
    SourceVideo.objects.filter(pk=face_video.pk).update(
        media_info={**face_video.media_info, "pictures": "pending"}
    )
    url = reverse("projects:faces", args=[face_video.pk])
    waiting = clients["editor"].get(url, HTTP_HX_REQUEST="true")
    assert waiting.status_code == 200
    assert 'class="face-card' in waiting.text and 'hx-trigger="every 1s"' in waiting.text
    assert "HX-Refresh" not in waiting.headers

    SourceVideo.objects.filter(pk=face_video.pk).update(media_info=face_video.media_info)
    done = clients["editor"].get(url, HTTP_HX_REQUEST="true")
    assert done.status_code == 286  # htmx: stop polling
    assert done.headers["HX-Refresh"] == "true"
