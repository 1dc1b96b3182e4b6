"""The dub page's requests: who may do what, lines added with their rules shown, errors in the
form's own area, the plan, submit."""

from __future__ import annotations

import pytest
from django.urls import reverse

from projects.models import Dub, DubState, FaceSearchState, Line
from projects.services import dubs
from projects.services import media as media_services
from tests.support.dubs import (
    SHORT_WINDOWS,
    add_dub_video,
    add_speech_like,
    with_people,
    write_short_dub_video,
)
from tests.support.numbered_media import speech_like, write_wav

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def short_video_file(tmp_path_factory):
    return write_short_dub_video(tmp_path_factory.mktemp("dubpage") / "interview.mp4")


@pytest.fixture
def dub(project, users, short_video_file) -> Dub:
    video = add_dub_video(project, users["editor"], short_video_file, find_people=False)
    with_people(video, SHORT_WINDOWS)
    return dubs.create(video=video, user=users["editor"])


@pytest.fixture
def clip(project, users, tmp_path):
    return add_speech_like(project, users["editor"], tmp_path / "line.wav", 1, 2_500)


def line_post(clip, **overrides) -> dict:
    data = {"person": "1", "source": "clip", "audio": clip.pk, "at": "6", "volume": "1.0"}
    data.update(overrides)
    return data


def test_the_video_page_offers_to_dub_it(clients, dub):
    page = clients["editor"].get(dub.source.get_absolute_url()).content.decode()
    assert "Dub this video" in page
    assert reverse("projects:dub", args=[dub.pk]) in page


def test_the_dub_page_lists_people_with_their_time_on_screen(clients, dub):
    page = clients["reviewer"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert "Person 1" in page and "Person 2" in page
    assert "0:22" in page  # person 1 comes back at 22 s
    assert "Add a line" not in page  # a reviewer cannot edit


def test_strangers_get_nothing(clients, dub):
    assert clients["outsider"].get(reverse("projects:dub", args=[dub.pk])).status_code == 404


def test_a_line_off_screen_is_kept_with_its_rule_and_a_fix_that_works(clients, dub, clip):
    url = reverse("projects:dub-line-add", args=[dub.pk])
    response = clients["editor"].post(url, line_post(clip, at="19"))
    assert response.status_code == 302
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert "is not on screen all that time" in page
    assert "Fix it" in page
    line = Line.objects.get()
    clients["editor"].post(reverse("projects:dub-line-fix", args=[dub.pk, line.pk]))
    assert dubs.line_checks(dub)[line.pk].ok
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert "1 engine task" in page and "Make the dub" in page


def test_a_bad_form_is_answered_in_its_own_area_with_400(clients, dub, clip):
    url = reverse("projects:dub-line-add", args=[dub.pk])
    response = clients["editor"].post(
        url, line_post(clip, at="soon"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="add-line"' in body and "<html" not in body
    assert "Type the time in seconds" in body
    assert not Line.objects.exists()


def test_a_person_not_in_the_video_is_refused_in_words(clients, dub, clip):
    url = reverse("projects:dub-line-add", args=[dub.pk])
    response = clients["editor"].post(url, line_post(clip, person="3"))
    assert response.status_code == 400
    assert "Choose one of the people found in the video." in response.content.decode()
    assert not Line.objects.exists()


def test_submitting_broken_lines_is_refused_and_nothing_starts(clients, dub, clip):
    dubs.add_line(dub, dubs.LineInput(person=1, at_ms=19_000, audio=clip))
    response = clients["editor"].post(reverse("projects:dub-submit", args=[dub.pk]), follow=True)
    assert "not on screen" in response.content.decode()
    dub.refresh_from_db()
    assert dub.state == DubState.DRAFT and not dub.jobs.exists()


def test_the_status_partial_stops_polling_once_settled(clients, dub):
    response = clients["editor"].get(reverse("projects:dub-status", args=[dub.pk]))
    assert response.status_code == 286


def test_the_page_reloads_with_the_editor_once_the_people_are_found(clients, dub):
    video = dub.source
    video.people_search_state = FaceSearchState.RUNNING
    video.save(update_fields=["people_search_state"])
    status = reverse("projects:dub-status", args=[dub.pk])
    searching = clients["editor"].get(status, headers={"HX-Request": "true"})
    assert searching.status_code == 200 and "HX-Refresh" not in searching
    assert "Looking for the people" in searching.content.decode()
    video.people_search_state = FaceSearchState.DONE
    video.save(update_fields=["people_search_state"])
    found = clients["editor"].get(status, headers={"HX-Request": "true"})
    assert found.status_code == 286 and found["HX-Refresh"] == "true"


def test_the_page_reloads_once_the_dub_is_made(clients, dub, clip, users):
    _line(dub, clip, 6_000)
    dubs.submit(dub, users["editor"])
    status = reverse("projects:dub-status", args=[dub.pk])
    running = clients["editor"].get(status, headers={"HX-Request": "true"})
    assert running.status_code == 200 and "HX-Refresh" not in running
    Dub.objects.filter(pk=dub.pk).update(state=DubState.DONE)
    done = clients["editor"].get(status, headers={"HX-Request": "true"})
    assert done.status_code == 286 and done["HX-Refresh"] == "true"


def test_text_over_the_voices_limit_is_told_in_the_form(clients, dub):
    url = reverse("projects:dub-line-add", args=[dub.pk])
    data = {"person": "2", "source": "text", "text": "word " * 30, "voice_id": "AOT"}
    response = clients["editor"].post(url, {**data, "at": "5", "volume": "1.0"})
    assert response.status_code == 400
    assert "at most 120 characters" in response.content.decode()
    assert not Line.objects.exists()


def _line(dub, clip, at_ms: int) -> Line:
    return dubs.add_line(dub, dubs.LineInput(person=1, at_ms=at_ms, audio=clip))


def _change(client, dub, line, headers=None, **data):
    url = reverse("projects:dub-line-change", args=[dub.pk, line.pk])
    return client.post(url, data, headers={"HX-Request": "true"} if headers is None else headers)


def test_a_line_moved_on_the_editor_comes_back_with_its_rules_checked_again(clients, dub, clip):
    line = _line(dub, clip, 6_000)
    response = _change(clients["editor"], dub, line, at="19,25")  # a decimal comma, as typed
    assert response.status_code == 200
    line.refresh_from_db()
    assert line.at_ms == 19_250
    board = response.content.decode()
    assert 'id="dub-board"' in board and "<html" not in board
    assert f'data-at-ms="{19_250}"' in board
    assert "is not on screen all that time" in board  # person 1 is away from 18 s to 22 s
    assert not dubs.line_checks(dub)[line.pk].ok


def test_a_move_keeps_the_crop_and_volume_unless_given(clients, dub, clip):
    line = dubs.add_line(
        dub,
        dubs.LineInput(person=1, at_ms=6_000, audio=clip, crop_start_ms=500, volume=0.5),
    )
    _change(clients["editor"], dub, line, at="7")
    line.refresh_from_db()
    assert (line.at_ms, line.crop_start_ms, line.crop_end_ms, line.volume) == (
        7_000,
        500,
        clip.duration_ms,
        0.5,
    )
    _change(clients["editor"], dub, line, at="7", crop_start="0.25", crop_end="2", volume="1.5")
    line.refresh_from_db()
    assert (line.crop_start_ms, line.crop_end_ms, line.volume) == (250, 2_000, 1.5)


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("soon", "Type the time in seconds"),
        ("-1", "Type the time in seconds"),
        ("inf", "Type the time in seconds"),
        ("900", "a line must start before its end"),
    ],
)
def test_a_refused_move_is_told_on_the_board_and_changes_nothing(clients, dub, clip, at, words):
    line = _line(dub, clip, 6_000)
    response = _change(clients["editor"], dub, line, at=at)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert "data-dub-line-error" in response.content.decode()
    line.refresh_from_db()
    assert line.at_ms == 6_000


def test_without_htmx_a_move_returns_to_the_page_with_the_refusal_as_a_message(clients, dub, clip):
    line = _line(dub, clip, 6_000)
    response = _change(clients["editor"], dub, line, headers={}, at="soon")
    assert response.status_code == 302
    page = clients["editor"].get(response["Location"]).content.decode()
    assert "Type the time in seconds" in page


def test_a_running_dub_refuses_moves_in_words(clients, dub, clip):
    line = _line(dub, clip, 6_000)
    Dub.objects.filter(pk=dub.pk).update(state=DubState.RUNNING)
    response = _change(clients["editor"], dub, line, at="7")
    assert response.status_code == 400
    assert "being made right now" in response.content.decode()
    line.refresh_from_db()
    assert line.at_ms == 6_000


def test_a_line_of_another_dub_is_not_found(clients, dub, clip, users):
    other = dubs.create(video=dub.source, user=users["editor"])
    line = _line(other, clip, 6_000)
    url = reverse("projects:dub-line-change", args=[dub.pk, line.pk])
    assert clients["editor"].post(url, {"at": "7"}).status_code == 404


def test_the_editor_rows_are_drawn_for_each_person(clients, dub, clip):
    _line(dub, clip, 6_000)
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert page.count("data-tl-person=") == 2
    assert "Listen to the dub" in page
    assert "data-editable" in page
    reviewer_page = clients["reviewer"].get(reverse("projects:dub", args=[dub.pk]))
    assert "data-editable" not in reviewer_page.content.decode()


def test_a_clip_uploaded_from_the_dub_page_is_followed_there_then_chosen(clients, dub, tmp_path):
    path = tmp_path / "take.wav"
    write_wav(path, speech_like(3, 2_500))
    with path.open("rb") as handle:
        response = clients["editor"].post(
            reverse("projects:audio-upload", args=[dub.project_id]),
            {"file": handle, "next": dub.get_absolute_url()},
        )
    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith(dub.get_absolute_url() + "?new_audio=")
    page = clients["editor"].get(target).content.decode()
    assert "ready… It is chosen in the form above" in page
    clip = dub.project.audio_clips.get(original_name="take.wav")
    status_url = reverse("projects:dub-new-clip", args=[dub.pk, clip.pk])
    assert status_url in page  # polled while it is checked

    media_services.probe_audio(clip.pk)
    answer = clients["editor"].get(status_url, headers={"HX-Request": "true"})
    assert answer["HX-Redirect"] == f"{dub.get_absolute_url()}?audio={clip.pk}#add-line"
    page = clients["editor"].get(answer["HX-Redirect"].split("#")[0]).content.decode()
    assert f'<option value="{clip.pk}" selected>' in page


def test_the_dub_page_offers_the_microphone_and_an_upload_for_a_line(clients, dub):
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert "Record from the microphone" in page and "data-recorder" in page
    assert f'data-next="{dub.get_absolute_url()}"' in page
    assert f'name="next" value="{dub.get_absolute_url()}"' in page


def test_a_dub_being_made_is_polled_without_planning_or_checking_again(
    clients, dub, clip, users, monkeypatch
):
    _line(dub, clip, 6_000)
    dubs.submit(dub, users["editor"])
    dub.refresh_from_db()
    assert dub.is_busy and dub.plan["rows"]

    def not_again(*args, **kwargs):
        raise AssertionError("planned or checked again while the dub is made")

    monkeypatch.setattr(dubs, "plan_for", not_again)
    monkeypatch.setattr(dubs, "line_checks", not_again)
    status = reverse("projects:dub-status", args=[dub.pk])
    board = clients["editor"].get(status, headers={"HX-Request": "true"}).content.decode()
    assert "1 engine task" in board
    assert "0:05" in board  # the kept plan's part, from 0:05.x


def test_the_original_sounds_volume_is_set_on_the_page(clients, dub):
    url = reverse("projects:dub-volume", args=[dub.pk])
    response = clients["editor"].post(url, {"original_volume": "0.35"})
    assert response.status_code == 302
    dub.refresh_from_db()
    assert dub.original_volume == 0.35
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert 'data-original-volume="0.35"' in page


@pytest.mark.parametrize("volume", ["3", "-1", "loud", "nan", "inf"])
def test_a_volume_out_of_range_is_refused_in_words(clients, dub, volume):
    url = reverse("projects:dub-volume", args=[dub.pk])
    response = clients["editor"].post(url, {"original_volume": volume}, follow=True)
    told = [str(message) for message in response.context["messages"]]
    assert told == ["Original sound: Give a volume from 0 (silent) to 2."]
    dub.refresh_from_db()
    assert dub.original_volume == 1.0


def test_a_running_dubs_volume_is_not_changed(clients, dub):
    Dub.objects.filter(pk=dub.pk).update(state=DubState.RUNNING)
    url = reverse("projects:dub-volume", args=[dub.pk])
    page = clients["editor"].post(url, {"original_volume": "0.5"}, follow=True).content.decode()
    assert "being made right now" in page
    dub.refresh_from_db()
    assert dub.original_volume == 1.0


def test_deleting_a_dub_asks_first_then_goes_back_to_its_video(clients, dub, clip):
    _line(dub, clip, 6_000)
    url = reverse("projects:dub-delete", args=[dub.pk])
    page = clients["editor"].get(url).content.decode()
    assert "Delete this dub of" in page and "the video and the audio clips" in page
    response = clients["editor"].post(url)
    assert response["Location"] == dub.source.get_absolute_url()
    assert not Dub.objects.filter(pk=dub.pk).exists()
    assert not Line.objects.exists()


def test_a_dub_being_made_is_not_offered_for_deletion(clients, dub):
    Dub.objects.filter(pk=dub.pk).update(state=DubState.RUNNING)
    page = clients["editor"].get(reverse("projects:dub", args=[dub.pk])).content.decode()
    assert "Delete this dub" not in page
    url = reverse("projects:dub-delete", args=[dub.pk])
    assert "being made right now" in clients["editor"].get(url).content.decode()
    clients["editor"].post(url)
    assert Dub.objects.filter(pk=dub.pk).exists()
