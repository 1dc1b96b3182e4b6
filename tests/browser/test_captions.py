"""Captions: the result of typed speech carries its words as WebVTT on the task page's player
(and as a download); a .vtt attached to uploaded speech gives its words, and a bad one is
refused in plain words."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from projects.models import AudioClip, AudioSource, LipSyncTask, MediaStatus
from tests.support.browser import log_in, screenshot
from tests.support.reviewing import finish

pytestmark = pytest.mark.django_db(transaction=True)

FIRST_CUE = """() => new Promise((resolve) => {
  const video = document.querySelector("[data-compare] figure:last-child video");
  const track = video.textTracks[0];
  track.mode = "showing";
  const first = () => track.cues[0];
  const look = () => track.cues && track.cues.length
    ? resolve({ start: first().startTime, end: first().endTime, text: first().text })
    : setTimeout(look, 100);
  look();
})"""


def _done_task(project, video, clip, user) -> LipSyncTask:
    task = LipSyncTask.objects.create(
        project=project,
        video=video,
        face=video.faces.first(),
        audio=clip,
        sound_start_ms=500,
        sound_end_ms=3_000,
        sound_insert_ms=1_000,
        engine="local",
        created_by=user,
    )
    task.result_file.save("r.mp4", ContentFile(video.file.read()), save=True)
    return finish(task)


def test_typed_speech_gives_the_result_captions(page, users, project, face_video):
    typed = AudioClip.objects.create(
        project=project,
        source=AudioSource.TTS,
        tts_text="Welcome to the harbour.",
        voice_id="oversea_male1",
        voice_language="en",
        duration_ms=3_000,
        status=MediaStatus.READY,
        created_by=users["editor"],
    )
    task = _done_task(project, face_video, typed, users["editor"])
    log_in(page, "editor")
    page.goto(task.get_absolute_url())
    cue = page.evaluate(FIRST_CUE)
    assert cue == {"start": 1.0, "end": 3.5, "text": "Welcome to the harbour."}
    screenshot(page, "task-captions")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the captions (.vtt)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("WEBVTT") and "00:00:01.000 --> 00:00:03.500" in text


def test_captions_attached_to_uploaded_speech(page, users, project, face_video, speech, tmp_path):
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    row = page.locator(f"#audio-{speech.pk}")
    row.get_by_text("Captions", exact=True).click()
    srt = tmp_path / "line.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nHello\n")
    row.get_by_label("Captions of what is said (.vtt)").set_input_files(str(srt))
    row.get_by_role("button", name="Attach captions").click()
    expect(page.locator("#messages .notice-error")).to_contain_text(
        "This is not a WebVTT captions file: its first line must be “WEBVTT”."
    )
    vtt = tmp_path / "line.vtt"
    vtt.write_text(
        "WEBVTT\n\n00:00.000 --> 00:01.000\nGood morning.\n\n"
        "00:01.000 --> 00:02.800\nThe boats are in.\n"
    )
    page.locator(f"#audio-{speech.pk}").get_by_text("Captions", exact=True).click()
    page.locator(f"#audio-{speech.pk}").get_by_label(
        "Captions of what is said (.vtt)"
    ).set_input_files(str(vtt))
    page.locator(f"#audio-{speech.pk}").get_by_role("button", name="Attach captions").click()
    expect(page.locator("#messages")).to_contain_text("2 captions attached to “line.wav”.")
    expect(page.locator(f"#audio-{speech.pk} .captions-state")).to_be_visible()

    task = _done_task(project, face_video, speech, users["editor"])
    page.goto(task.get_absolute_url())
    assert page.evaluate(FIRST_CUE) == {"start": 1.0, "end": 1.5, "text": "Good morning."}
    assert page.js_errors == []
