"""A video's page in a real browser: the face picker, the timeline's fields and the task form,
on a real video whose face was found by the local engine."""

from __future__ import annotations

import io
import re
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from projects.models import AudioClip, FaceChoice, LipSyncTask, MediaStatus, SourceVideo
from projects.selectors import current_faces
from tests.support.browser import WORKER_TIMEOUT_MS, log_in, screenshot, wait_for_the_added_clip
from tests.support.facevideos import ASTRONAUT, LFW, Appearance, write_face_video
from tests.support.fixtures import add_speech, add_video
from tests.support.numbered_media import psnr
from tests.support.simulator import write_tone_wav

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def two_people_file(tmp_path_factory) -> Path:
    """Two different people side by side, the second entering later."""
    path = tmp_path_factory.mktemp("twopeople") / "two people.mp4"
    people = [
        Appearance(ASTRONAUT, 500, 4_500, center=(0.27, 0.5), height_frac=0.45),
        Appearance(LFW, 2_000, 6_000, center=(0.75, 0.5), height_frac=0.45),
    ]
    write_face_video(path, people, duration_ms=6_500, size=(640, 512), fps=12)
    return path


@pytest.fixture
def two_people(project, users, two_people_file):
    video = add_video(project, users["editor"], two_people_file)
    assert len(current_faces(video)) == 2
    return video


def open_video(page, video) -> None:
    log_in(page, "editor")
    page.goto(video.get_absolute_url())
    expect(page.locator(".face-card").first).to_be_visible()


def pick_face_and_clip(page, clip) -> None:
    page.locator(".face-card").first.click()
    expect(page.locator(".face-card.selected")).to_have_count(1)
    page.get_by_label("Audio clip", exact=True).select_option(str(clip.pk))
    expect(page.locator("[data-tl-block]")).to_be_visible()


def type_into(page, name: str, text: str) -> None:
    """Type as a person does, key by key, then leave the field."""
    field = page.locator(f"input[name={name}]")
    field.fill("")
    field.press_sequentially(text)
    field.press("Tab")


def test_a_decimal_comma_reads_as_a_decimal_point_in_the_browser_and_on_the_server(
    page, face_video, speech
):
    open_video(page, face_video)
    pick_face_and_clip(page, speech)
    type_into(page, "sound_end", "2,5")
    expect(page.locator("input[name=sound_end]")).to_have_value("2.500")
    status = page.locator("[data-tl-status]")
    expect(status).to_contain_text("✓ Ready: 2.5 s of speech")
    screenshot(page, "video-decimal-comma")
    # The server reads the comma too: post the text as typed, past the editor's tidying.
    page.locator("input[name=sound_end]").evaluate("field => { field.value = '2,5'; }")
    with page.expect_navigation():
        page.evaluate("() => document.getElementById('task-form').submit()")
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]+/"))
    task = LipSyncTask.objects.get()
    assert (task.sound_start_ms, task.sound_end_ms) == (0, 2_500)
    assert page.js_errors == []


def test_a_time_that_is_not_plain_seconds_is_refused_in_words_never_guessed(
    page, face_video, speech
):
    open_video(page, face_video)
    pick_face_and_clip(page, speech)
    type_into(page, "sound_end", "1,234.5")
    status = page.locator("[data-tl-status]")
    expect(status).to_contain_text("Type the crop end in seconds, for example 1.5.")
    expect(page.get_by_role("button", name="Submit for lip-sync")).to_have_attribute(
        "aria-disabled", "true"
    )
    # The server refuses it too when the browser's check is bypassed.
    with page.expect_navigation():
        page.evaluate("() => document.getElementById('task-form').submit()")
    expect(page.locator("[data-tl-field=sound_end] .error")).to_have_text(
        "Type the time in seconds, for example 5.5 (a comma works too)."
    )
    expect(page.locator("input[name=sound_end]")).to_have_value("1,234.5")
    screenshot(page, "video-time-refused")
    assert not LipSyncTask.objects.exists()


def test_a_face_picked_while_a_time_is_typed_leaves_the_typing_alone(page, face_video, speech):
    """The answer to a face pick may arrive while someone types a time: what they type stays."""
    open_video(page, face_video)
    pick_face_and_clip(page, speech)
    card = page.locator(".face-card.selected")
    field = page.locator("input[name=sound_end]")
    field.fill("")
    field.press_sequentially("1,2")
    # What the face picker announces when its answer arrives (see views/videos.py).
    card.evaluate(
        """card => document.body.dispatchEvent(new CustomEvent("faceSelected", {detail: {
            id: card.dataset.faceId, start_ms: card.dataset.startMs, end_ms: card.dataset.endMs,
        }}))"""
    )
    field.press_sequentially("34.5")
    expect(field).to_have_value("1,234.5")
    field.press("Tab")
    expect(page.locator("[data-tl-status]")).to_contain_text("Type the crop end in seconds")


# --- The chosen face ---------------------------------------------------------------------------


def test_a_video_with_one_face_has_it_chosen_already(page, face_video, speech):
    [face] = current_faces(face_video)
    open_video(page, face_video)
    expect(page.locator(".face-card.selected")).to_have_attribute("aria-pressed", "true")
    assert page.locator("input[type=hidden][name=face]").input_value() == str(face.pk)
    expect(page.locator("[data-tl-person=face] [data-tl-on-screen]")).to_be_visible()
    page.get_by_label("Audio clip", exact=True).select_option(str(speech.pk))
    expect(page.locator("[data-tl-status]")).to_contain_text("✓ Ready")
    screenshot(page, "video-one-face-chosen")


def test_the_picked_face_is_kept_after_leaving_the_page_and_coming_back(page, two_people, speech):
    second = current_faces(two_people)[1]
    open_video(page, two_people)
    expect(page.locator(".face-card.selected")).to_have_count(0)  # two people: no guess
    page.locator(f"#face-card-{second.pk}").click()
    expect(page.locator(f"#face-card-{second.pk}")).to_have_attribute("aria-pressed", "true")
    page.get_by_role("link", name="Harbour documentary").click()  # to the project page
    page.get_by_role("link", name="two people.mp4").click()  # and back
    expect(page.locator(f"#face-card-{second.pk}")).to_have_attribute("aria-pressed", "true")
    assert page.locator("input[type=hidden][name=face]").input_value() == str(second.pk)
    assert FaceChoice.objects.get(video=two_people).face == second


def wait_for_the_new_clip(page, name: str) -> AudioClip:
    """The page follows a clip added from it, then comes back with it chosen on the timeline."""
    clip = wait_for_the_added_clip(page, name, anchor="timeline")
    assert (clip.original_name, clip.status) == (name, MediaStatus.READY)
    expect(page.get_by_label("Audio clip", exact=True)).to_have_value(str(clip.pk))
    expect(page.locator("[data-tl-block]")).to_be_visible()
    return clip


def test_audio_added_from_the_video_page_lands_on_its_timeline(page, face_video, worker, tmp_path):
    [face] = current_faces(face_video)
    open_video(page, face_video)
    panel = page.locator("#add-audio")
    expect(panel).to_have_attribute("open", "")  # no clip yet: the ways to add one are open

    # Text for a voice.
    panel.get_by_text("Type text for a voice instead").click()
    panel.get_by_label("Words to say").fill(
        "Welcome back to the harbour, where the fishing boats come in every morning."
    )
    panel.get_by_label("Voice").select_option("oversea_male1")
    panel.get_by_role("button", name="Make the audio clip").click()
    expect(page.locator("#new-clip")).to_contain_text("Getting")
    screenshot(page, "video-new-clip-checking")
    wait_for_the_new_clip(page, AudioClip.objects.get().original_name)
    assert page.locator("input[type=hidden][name=face]").input_value() == str(face.pk)
    expect(page.locator("[data-tl-status]")).to_contain_text("✓ Ready")
    screenshot(page, "video-new-clip-on-timeline")

    # A file, from the same page.
    page.get_by_text("Add another audio clip").click()
    page.locator("#audio-file").set_input_files(str(write_tone_wav(tmp_path / "take 2.wav", 2_500)))
    page.get_by_role("button", name="Upload audio clip").click()
    wait_for_the_new_clip(page, "take 2.wav")

    # The microphone (Chromium's fake one), from the same page.
    page.get_by_text("Add another audio clip").click()
    page.get_by_text("Record from the microphone").click()
    page.get_by_role("button", name="● Start recording").click()
    expect(page.locator("[data-record-time]")).to_have_text(
        re.compile(r"^[3-9]\.\d s$"), timeout=10_000
    )
    page.get_by_role("button", name="■ Stop and upload").click()
    recorded = wait_for_the_new_clip(page, "recording.m4a")
    assert recorded.source == "recording"
    assert page.url.split("/videos/")[1].startswith(f"{face_video.pk}/")
    assert page.js_errors == []


# --- The keyboard on the face cards ------------------------------------------------------------


def test_the_focus_stays_on_the_chosen_card_after_picking_and_searching_again(
    page, two_people, worker
):
    first, second = current_faces(two_people)
    open_video(page, two_people)
    page.locator(f"#face-card-{first.pk}").focus()
    page.keyboard.press("Enter")
    expect(page.locator(f"#face-card-{first.pk}")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#face-card-{first.pk}")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator(f"#face-card-{second.pk}")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#face-card-{second.pk}")).to_be_focused()

    page.get_by_role("button", name="Identify again").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#faces .checking")).to_be_visible()
    expect(page.locator("#faces-heading")).to_be_focused()
    # The search ends, the page reloads with the new faces, and the keyboard is back on the
    # same person, found again.
    page.wait_for_function(
        "old => document.querySelector('#faces .face-card') !== null"
        " && !document.getElementById(old)",
        arg=f"face-card-{second.pk}",
        timeout=WORKER_TIMEOUT_MS,
    )
    chosen = page.locator("#faces .face-card[aria-pressed=true]")
    expect(chosen).to_be_focused()
    new_second = current_faces(type(two_people).objects.get(pk=two_people.pk))[1]
    assert chosen.get_attribute("id") == f"face-card-{new_second.pk}"
    screenshot(page, "video-focus-after-search")
    assert page.js_errors == []


def test_the_faces_show_before_the_strip_is_made_and_the_timeline_gets_it_after(
    page, face_video, speech
):
    """The face cards do not wait for the thumbnail strip: they are on the page while it is
    still being made; once it is, the page reloads by itself and the timeline shows it."""
    strip_name = face_video.thumbnail_strip.name
    making = {**face_video.media_info, "pictures": "pending"}
    SourceVideo.objects.filter(pk=face_video.pk).update(thumbnail_strip="", media_info=making)
    open_video(page, face_video)
    expect(page.locator("[data-timeline]")).to_be_visible()
    expect(page.locator("[data-strip-url]")).to_have_count(0)
    screenshot(page, "video-faces-before-strip")

    SourceVideo.objects.filter(pk=face_video.pk).update(
        thumbnail_strip=strip_name, media_info=face_video.media_info
    )
    expect(page.locator("[data-strip-url]")).to_have_count(1, timeout=10_000)
    expect(page.locator(".face-card").first).to_be_visible()
    screenshot(page, "video-faces-with-strip")
    assert page.js_errors == []


def test_a_phone_video_stored_on_its_side_stands_upright_with_its_face_found(
    page, project, users, tmp_path
):
    """The page plays our upright copy, whose poster, strip and face cards match what plays,
    says what was changed, and keeps a portrait picture within the screen."""
    phone = tmp_path / "phone.mp4"
    portrait = Appearance(ASTRONAUT, 500, 3_500, height_frac=0.45)
    write_face_video(phone, [portrait], duration_ms=3_500, size=(512, 896), rotation=-90)
    video = add_video(project, users["editor"], phone)
    open_video(page, video)
    expect(page.get_by_text("Turned the picture upright")).to_be_visible()
    player = page.locator(".player-row video")
    assert shown_size(player) == [512, 896]
    assert fits_the_screen(page, player) and is_portrait(player)
    screenshot(page, "video-phone-upright")

    # Chromium honours the file's request to turn its pictures: what it shows of the upload
    # is what we stored, turned our way (an outside check of which way is upright).
    seen = as_chromium_shows_it(page, phone, at_s=1.0)
    assert psnr(seen, picture_at(Path(video.file.path), at_s=1.0)) >= 35

    clip = add_speech(project, users["editor"], tmp_path / "line.wav")
    page.reload()
    poster = page.locator(".player-row img.poster")
    width, height = poster.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert 0 < width < height, "the poster is made from the upright copy"
    assert fits_the_screen(page, poster) and is_portrait(poster)
    pick_face_and_clip(page, clip)
    timeline_video = page.locator(".tl-video")
    assert shown_size(timeline_video) == [512, 896]
    assert fits_the_screen(page, timeline_video)
    screenshot(page, "video-phone-timeline")
    assert page.js_errors == []


def as_chromium_shows_it(page, video_file: Path, at_s: float) -> np.ndarray:
    """The picture Chromium shows of `video_file` at `at_s`, at the video's own size."""
    (video_file.parent / "show.html").write_text(
        f'<body style="margin:0"><video src="{video_file.name}" muted></video></body>'
    )
    viewer = page.context.new_page()
    viewer.goto(f"file://{video_file.parent}/show.html")
    player = viewer.locator("video")
    player.evaluate("(v, t) => new Promise(r => { v.onseeked = r; v.currentTime = t; })", at_s)
    picture = np.asarray(Image.open(io.BytesIO(player.screenshot())).convert("RGB"))
    viewer.close()
    return picture


def picture_at(video_file: Path, at_s: float) -> np.ndarray:
    with av.open(str(video_file)) as container:
        for frame in container.decode(video=0):
            if frame.time >= at_s - 0.001:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no picture at {at_s} s")


def shown_size(player) -> list[int]:
    player.evaluate("v => v.readyState >= 1 || new Promise(r => v.onloadedmetadata = r)")
    return player.evaluate("v => [v.videoWidth, v.videoHeight]")


def fits_the_screen(page, element) -> bool:
    box, viewport = element.bounding_box(), page.viewport_size
    return box is not None and viewport is not None and box["height"] <= viewport["height"]


def is_portrait(element) -> bool:
    box = element.bounding_box()
    return box is not None and box["height"] > box["width"]
