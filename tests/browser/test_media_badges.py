"""A badge never says "Ready" beside a message that the file cannot be used, and a clip that
cannot be used is not offered on the timeline: the page says which and why instead."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.browser import log_in, screenshot
from tests.support.fixtures import add_speech

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_one_second_clip_needs_a_fix_and_is_not_offered(
    page, users, project, face_video, speech, tmp_path
):
    short = add_speech(project, users["editor"], tmp_path / "speech_1s.wav", duration_ms=1_000)
    log_in(page, "editor")
    page.goto(project.get_absolute_url())
    short_row = page.locator(f"#audio-{short.pk}")
    expect(short_row.locator(".badge")).to_have_text("Needs a fix")
    expect(short_row).to_contain_text("the engine needs at least 2 s")
    expect(page.locator(f"#audio-{speech.pk} .badge")).to_have_text("Ready")
    screenshot(page, "audio-needs-a-fix")

    page.goto(face_video.get_absolute_url())
    page.locator(".face-card").first.click()
    choices = page.get_by_label("Audio clip", exact=True).locator("option").all_inner_texts()
    assert "speech_1s.wav" not in choices and "line.wav" in choices
    note = page.locator(".unusable-clips")
    expect(note).to_contain_text("speech_1s.wav")
    expect(note).to_contain_text("the engine needs at least 2 s")
    assert page.js_errors == []
