"""Audio sources in a real browser: microphone recording and text with a voice."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from projects.models import AudioClip, AudioSource, MediaStatus
from tests.support.browser import WORKER_TIMEOUT_MS, create_project, log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_recording_from_the_microphone_becomes_a_usable_clip(page, worker, users):
    log_in(page, "editor")
    create_project(page, "Recorded")
    page.get_by_text("Record from the microphone").click()
    page.get_by_role("button", name="● Start recording").click()
    expect(page.locator("[data-record-time]")).to_have_text(
        re.compile(r"^[3-9]\.\d s$"), timeout=10_000
    )
    page.get_by_role("button", name="■ Stop and upload").click()
    page.wait_for_load_state("load")
    row = page.locator("#audio-heading ~ ul li").first
    expect(row.locator(".badge")).to_have_text("Ready", timeout=WORKER_TIMEOUT_MS)
    screenshot(page, "audio-recorded")
    clip = AudioClip.objects.get()
    assert clip.source == AudioSource.RECORDING and clip.status == MediaStatus.READY
    assert clip.original_name.endswith(".m4a")
    assert clip.media_info["probe"]["container"] == "m4a"
    assert clip.problems == []
    assert 2_500 <= clip.duration_ms <= 8_000


def test_text_with_a_voice_makes_a_clip_and_the_sample_plays(page, worker, users):
    log_in(page, "editor")
    create_project(page, "Spoken")
    page.get_by_text("Type text for a voice instead").click()
    form = page.locator("form[action$='/speech/']")
    form.get_by_label("Words to say").fill("Thank you for watching, see you next week.")
    expect(form.locator(".counter")).to_contain_text("of 1000 characters left")  # TTS: 1000
    form.get_by_label("Voice").select_option("oversea_male1")
    form.get_by_label("Language").select_option("en")
    with page.expect_response(
        lambda response: "/audio/voices/sample/" in response.url and response.status == 200,
        timeout=WORKER_TIMEOUT_MS,
    ) as sample:
        form.get_by_role("button", name="▶ Hear this voice").click()
    assert sample.value.headers["content-type"] == "audio/wav"
    form.get_by_role("button", name="Make the audio clip").click()
    row = page.locator("#audio-heading ~ ul li").first
    expect(row.locator(".badge")).to_have_text("Ready", timeout=WORKER_TIMEOUT_MS)
    screenshot(page, "audio-spoken")
    clip = AudioClip.objects.get()
    assert clip.source == AudioSource.TTS and clip.voice_id == "oversea_male1"
    assert clip.duration_ms and clip.duration_ms > 2_000
