"""The whole editor flow in a real browser, on the local engine, with a real Celery worker.

Login → project → upload video and audio → pick a face → timeline (drag and keyboard) →
listen to the mix → submit → live status → download the result.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from projects.mediakit.probe import probe_media
from projects.models import LipSyncTask, TaskStatus
from tests.support.browser import WORKER_TIMEOUT_MS, create_project, log_in, screenshot, upload
from tests.support.facevideos import ASTRONAUT, Appearance, write_face_video
from tests.support.simulator import write_tone_wav

pytestmark = pytest.mark.django_db(transaction=True)

# Media work (probe, faces, render) runs on the worker: allow it time on a busy 2-core machine.


@pytest.fixture
def presenter(tmp_path) -> Path:
    path = tmp_path / "presenter.mp4"
    write_face_video(
        path, [Appearance(ASTRONAUT, 500, 5_500)], duration_ms=6_000, size=(640, 512), fps=25
    )
    return path


@pytest.fixture
def speech(tmp_path) -> Path:
    return write_tone_wav(tmp_path / "new line.wav", 4_000)


def field_seconds(page, name: str) -> float:
    return float(page.locator(f"input[name={name}]").input_value())


def test_full_flow_from_login_to_downloaded_result(page, worker, users, presenter, speech):
    log_in(page, "editor")
    create_project(page, "Launch video")
    project_url = page.url

    upload(page, "audio", speech)
    page.wait_for_url(re.compile(r"/projects/\d+/"))
    expect(page.locator("#audio-heading ~ ul .badge").first).to_have_text(
        "Ready", timeout=WORKER_TIMEOUT_MS
    )

    upload(page, "video", presenter)
    page.wait_for_url(re.compile(r"/videos/\d+/"))
    expect(page.locator(".face-card").first).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    expect(page.locator(".face-card .window").first).to_have_text(
        re.compile(r"0:0\d\.\d – 0:0\d\.\d")
    )
    screenshot(page, "editor-faces")

    page.locator(".face-card").first.click()
    expect(page.locator(".face-card.selected")).to_have_count(1)
    expect(page.locator("[data-tl-person=face] [data-tl-on-screen]")).to_be_visible()

    page.get_by_label("Audio clip", exact=True).select_option(label="new line.wav")
    block = page.locator("[data-tl-block]")
    expect(block).to_be_visible()

    # Drag the clip along the video's timeline: the insert field follows.
    page.locator("input[name=sound_end]").fill("2.500")
    page.locator("input[name=sound_end]").dispatch_event("change")
    before = field_seconds(page, "sound_insert")
    block.scroll_into_view_if_needed()
    box = block.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 120, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    after_drag = field_seconds(page, "sound_insert")
    assert after_drag > before

    # Keyboard: ← → move the selected handle by 0.1 s, with Shift by 1 s.
    page.locator("input[name=sound_insert]").fill("0.500")
    page.locator("input[name=sound_insert]").dispatch_event("change")
    block.focus()
    page.keyboard.press("ArrowRight")
    assert field_seconds(page, "sound_insert") == pytest.approx(0.6, abs=0.0005)
    page.keyboard.press("Shift+ArrowRight")
    assert field_seconds(page, "sound_insert") == pytest.approx(1.6, abs=0.0005)
    page.keyboard.press("ArrowLeft")
    assert field_seconds(page, "sound_insert") == pytest.approx(1.5, abs=0.0005)

    # Listen before paying: the mix plays in the browser.
    listen = page.locator("[data-tl-listen]")
    expect(listen).to_have_text("Listen to the mix")
    expect(listen).to_be_enabled(timeout=20_000)
    listen.click()
    expect(listen).to_have_attribute("aria-pressed", "true")
    expect(listen).to_have_text("Stop the mix")
    page.wait_for_function("() => !document.querySelector('[data-tl-video]').paused")
    screenshot(page, "editor-timeline")
    listen.click()

    page.get_by_role("button", name="Submit for lip-sync").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]+/"))
    expect(page.locator("#task-status .status-line .badge")).to_have_text(
        "Done", timeout=WORKER_TIMEOUT_MS
    )
    screenshot(page, "editor-result")

    task = LipSyncTask.objects.get()
    assert task.status == TaskStatus.SUCCEED
    assert (task.sound_start_ms, task.sound_end_ms, task.sound_insert_ms) == (0, 2500, 1500)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the video").click()
    downloaded = Path(download_info.value.path())
    info = probe_media(downloaded)
    assert info.kind == "video" and info.width == 640 and info.height == 512

    page.goto(project_url)
    expect(page.locator("#task-badge-" + str(task.pk))).to_have_text("Done")
    assert page.js_errors == []


def test_rule_messages_live_and_on_the_server(page, worker, users, presenter, speech):
    log_in(page, "editor")
    create_project(page, "Rules")
    upload(page, "audio", speech)
    expect(page.locator("#audio-heading ~ ul .badge").first).to_have_text(
        "Ready", timeout=WORKER_TIMEOUT_MS
    )
    upload(page, "video", presenter)
    expect(page.locator(".face-card").first).to_be_visible(timeout=WORKER_TIMEOUT_MS)
    page.locator(".face-card").first.click()
    page.get_by_label("Audio clip", exact=True).select_option(label="new line.wav")

    # A crop of 1.5 s breaks the 2 s rule: the page says so at once and holds the submit.
    page.locator("input[name=sound_end]").fill("1.500")
    page.locator("input[name=sound_end]").dispatch_event("change")
    status = page.locator("[data-tl-status]")
    expect(status).to_contain_text("at least 2 s", timeout=5_000)
    expect(page.get_by_role("button", name="Submit for lip-sync")).to_have_attribute(
        "aria-disabled", "true"
    )

    # Placed before the face appears, a 2 s clip overlaps its window too little.
    page.locator("input[name=sound_end]").fill("2.000")
    page.locator("input[name=sound_end]").dispatch_event("change")
    page.locator("input[name=sound_insert]").fill("0.000")
    page.locator("input[name=sound_insert]").dispatch_event("change")
    expect(status).to_contain_text("must overlap the face's window", timeout=5_000)
    expect(status).to_contain_text("later")
    screenshot(page, "editor-rules")

    # The server applies the same rule when the browser's check is bypassed
    # (HTMLFormElement.submit() skips the page's own submit handling).
    with page.expect_navigation():
        page.evaluate("() => document.getElementById('task-form').submit()")
    expect(page.locator(".notice-error").first).to_contain_text("must overlap the face's window")
    assert not LipSyncTask.objects.exists()


def test_quick_mode_with_text_and_a_voice(page, worker, users, tmp_path):
    square = tmp_path / "square.mp4"
    write_face_video(square, [Appearance(ASTRONAUT, 0, 4_000)], duration_ms=4_000, size=(720, 720))
    log_in(page, "editor")
    create_project(page, "Quick")
    upload(page, "video", square)
    expect(page.get_by_role("link", name=re.compile("Quick mode"))).to_be_visible(
        timeout=WORKER_TIMEOUT_MS
    )
    page.get_by_role("link", name=re.compile("Quick mode")).click()
    page.get_by_label("Type the words").check()
    page.get_by_label("Words to say").fill("Welcome to our spring collection.")
    expect(page.locator(".counter")).to_contain_text("87 of 120 characters left")
    page.get_by_label("Voice").select_option("oversea_male1")
    page.get_by_label("Language").select_option("en")
    screenshot(page, "quick-mode")
    page.get_by_role("button", name="Lip-sync the whole video").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]+/"))
    expect(page.locator("#task-status .status-line .badge")).to_have_text(
        "Done", timeout=WORKER_TIMEOUT_MS
    )
    task = LipSyncTask.objects.get()
    assert task.kind == "basic" and task.status == TaskStatus.SUCCEED
    assert page.js_errors == []
